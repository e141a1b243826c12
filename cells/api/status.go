package api

import (
	"net/http"
	"runtime"
	"time"

	"github.com/hivenet/hivenet/cells/cell"
)

// Status is the body of GET /v1/status.
type Status struct {
	Name      string              `json:"name"`
	Version   string              `json:"version"`
	GoVersion string              `json:"goVersion"`
	Started   time.Time           `json:"started"`
	Level     cell.Level          `json:"level"`
	Features  []cell.FeatureState `json:"features,omitempty"`
	Modules   []cell.ModuleHealth `json:"modules"`
}

// Healthz is the body of GET /v1/healthz.
type Healthz struct {
	Level   cell.Level `json:"level"`
	Message string     `json:"message,omitempty"`
}

type statusHandlers struct {
	name    string
	started time.Time
	health  cell.HealthReporter
	hive    cell.HiveInfo
}

func (s *statusHandlers) status(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, Status{
		Name:      s.name,
		Version:   cell.Version,
		GoVersion: runtime.Version(),
		Started:   s.started,
		Level:     s.health.Level(),
		Features:  s.hive.Features(),
		Modules:   s.health.Modules(),
	})
}

// healthz answers 200 while no module is degraded and 503 otherwise, so it can
// serve as a liveness or readiness probe as it is.
func (s *statusHandlers) healthz(w http.ResponseWriter, _ *http.Request) {
	lvl := s.health.Level()
	if lvl == cell.LevelOK {
		WriteJSON(w, http.StatusOK, Healthz{Level: lvl})
		return
	}
	var msg string
	for _, m := range s.health.Modules() {
		if m.Level == lvl {
			msg = m.ID + ": " + m.Message
			break
		}
	}
	WriteJSON(w, http.StatusServiceUnavailable, Healthz{Level: lvl, Message: msg})
}
