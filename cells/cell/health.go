package cell

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"
)

// Level is the health of a component.
type Level string

const (
	// LevelUnknown: the component has not reported yet.
	LevelUnknown Level = "Unknown"
	// LevelOK: working as intended.
	LevelOK Level = "OK"
	// LevelStopped: deliberately not running (stopped, or finished its work).
	LevelStopped Level = "Stopped"
	// LevelDegraded: not working as intended; the message and error say why.
	LevelDegraded Level = "Degraded"
)

// severity orders levels for aggregation: the worst level of a module's reports
// is the module's level.
func (l Level) severity() int {
	switch l {
	case LevelOK:
		return 0
	case LevelStopped:
		return 1
	case LevelUnknown:
		return 2
	default:
		return 3
	}
}

// Health is a component's health reporter. Each module gets its own; NewScope
// derives a reporter for a part of it (a job, a table, a device). Reporting is
// cheap and may happen often; only changes of level or message are kept.
type Health interface {
	OK(msg string)
	Degraded(msg string, err error)
	Stopped(msg string)
	// NewScope returns a reporter for a named part of this component.
	NewScope(name string) Health
}

// Status is one reporter's latest report.
type Status struct {
	ID      string    `json:"id"`
	Level   Level     `json:"level"`
	Message string    `json:"message,omitempty"`
	Error   string    `json:"error,omitempty"`
	Since   time.Time `json:"since"` // when the level last changed
	Updated time.Time `json:"updated"`
}

// ModuleHealth is a module's aggregated health: the worst of its reports.
type ModuleHealth struct {
	ID      string    `json:"id"`
	Title   string    `json:"title,omitempty"`
	Level   Level     `json:"level"`
	Message string    `json:"message,omitempty"`
	Updated time.Time `json:"updated"`
	Reports []Status  `json:"reports,omitempty"`
}

// HealthReporter is the read side of the hive's health: what the agent's API
// serves and `hivenet status` prints.
type HealthReporter interface {
	// Modules lists every module with its aggregated health, sorted by id.
	Modules() []ModuleHealth
	// Level is the worst level over all modules.
	Level() Level
}

type healthRegistry struct {
	mu      sync.Mutex
	reports map[string]*Status // by scope id ("module" or "module.part")
	titles  map[string]string  // module id -> title
	// defaults are what a module without reports shows.
	defaults map[string]Status
	now      func() time.Time
}

func newHealthRegistry() *healthRegistry {
	return &healthRegistry{
		reports:  map[string]*Status{},
		titles:   map[string]string{},
		defaults: map[string]Status{},
		now:      time.Now,
	}
}

func (r *healthRegistry) scope(id string) Health { return &healthScope{r: r, id: id} }

func (r *healthRegistry) addModule(id, title string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.titles[id] = title
}

func (r *healthRegistry) report(id string, lvl Level, msg string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	s, ok := r.reports[id]
	if !ok {
		s = &Status{ID: id, Since: now}
		r.reports[id] = s
	}
	if s.Level != lvl {
		s.Since = now
	}
	s.Level, s.Message, s.Updated = lvl, msg, now
	s.Error = ""
	if err != nil {
		s.Error = err.Error()
	}
}

// markModules sets the level a module shows while it has no reports of its
// own (a module whose hooks all succeeded is OK without saying so). With force,
// every report is overwritten too: everything is Stopped once the hive stops.
func (r *healthRegistry) markModules(lvl Level, msg string, force bool) {
	r.mu.Lock()
	now := r.now()
	for id := range r.titles {
		r.defaults[id] = Status{ID: id, Level: lvl, Message: msg, Since: now, Updated: now}
	}
	var ids []string
	if force {
		for id := range r.reports {
			ids = append(ids, id)
		}
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.report(id, lvl, msg, nil)
	}
}

func moduleOf(id string) string {
	if i := strings.IndexByte(id, '.'); i >= 0 {
		return id[:i]
	}
	return id
}

func (r *healthRegistry) Modules() []ModuleHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	mods := map[string]*ModuleHealth{}
	get := func(id string) *ModuleHealth {
		m, ok := mods[id]
		if !ok {
			m = &ModuleHealth{ID: id, Title: r.titles[id], Level: LevelUnknown}
			mods[id] = m
		}
		return m
	}
	for id := range r.titles {
		get(id)
	}
	for _, s := range r.reports {
		m := get(moduleOf(s.ID))
		m.Reports = append(m.Reports, *s)
	}
	out := make([]ModuleHealth, 0, len(mods))
	for _, m := range mods {
		if len(m.Reports) == 0 {
			if d, ok := r.defaults[m.ID]; ok {
				m.Reports = []Status{d}
			}
		}
		sort.Slice(m.Reports, func(i, j int) bool { return m.Reports[i].ID < m.Reports[j].ID })
		worst := -1
		for _, s := range m.Reports {
			if sev := s.Level.severity(); sev > worst {
				worst = sev
				m.Level, m.Message = s.Level, s.Message
				if s.Error != "" {
					m.Message = s.Message + ": " + s.Error
				}
				if s.ID != m.ID {
					m.Message = strings.TrimPrefix(s.ID, m.ID+".") + ": " + m.Message
				}
			}
			if s.Updated.After(m.Updated) {
				m.Updated = s.Updated
			}
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (r *healthRegistry) Level() Level {
	lvl := LevelOK
	for _, m := range r.Modules() {
		if m.Level.severity() > lvl.severity() {
			lvl = m.Level
		}
	}
	return lvl
}

type healthScope struct {
	r  *healthRegistry
	id string
}

func (h *healthScope) OK(msg string) { h.r.report(h.id, LevelOK, msg, nil) }

func (h *healthScope) Degraded(msg string, err error) {
	if err == nil {
		err = errors.New("unspecified error")
	}
	h.r.report(h.id, LevelDegraded, msg, err)
}

func (h *healthScope) Stopped(msg string) { h.r.report(h.id, LevelStopped, msg, nil) }

func (h *healthScope) NewScope(name string) Health {
	if h.id == "" {
		return &healthScope{r: h.r, id: name}
	}
	return &healthScope{r: h.r, id: h.id + "." + name}
}
