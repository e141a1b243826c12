package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hivenet/hivenet/cells/cell"
)

// Config is the API server's configuration.
type Config struct {
	// SocketPath is where the agent listens; empty disables the unix socket.
	SocketPath string `help:"Unix socket the agent's API listens on (the CLI and CNI plugin connect to it)"`
	// Listen is a TCP address (the operator's health port); empty disables it.
	Listen string `flag:"api-serve-addr" help:"TCP address for the API (host:port); empty disables it"`
}

// Cell is the API server. The binary chooses the defaults (a socket for the
// agent, a TCP address for the operator) with Config.
func Cell(name string, defaults Config) cell.Cell {
	return cell.Module("api", "HTTP API on a unix socket or TCP address",
		cell.Config(defaults),
		cell.Invoke(func(cfg Config, lc cell.Lifecycle, log *slog.Logger, hr cell.HealthReporter, hi cell.HiveInfo, h cell.Health, in handlersIn, mc collectorsIn) error {
			metrics, err := metricsHandler(mc.Collectors)
			if err != nil {
				return err
			}
			handlers := append(in.Handlers, Handler{Pattern: "GET /metrics", Handler: metrics})
			s, err := newServer(name, cfg, log, hr, hi, h, handlers)
			if err != nil {
				return err
			}
			lc.Append(cell.Hook{Name: "api-server", OnStart: s.start, OnStop: s.stop})
			return nil
		}),
	)
}

type server struct {
	cfg    Config
	log    *slog.Logger
	health cell.Health
	srv    *http.Server
	lns    []net.Listener
	done   chan struct{}
}

func newServer(name string, cfg Config, log *slog.Logger, hr cell.HealthReporter, hi cell.HiveInfo, h cell.Health, handlers []Handler) (*server, error) {
	if cfg.SocketPath == "" && cfg.Listen == "" {
		return nil, errors.New("--socket-path and --api-serve-addr are both empty: nothing to serve on")
	}
	mux := http.NewServeMux()
	st := &statusHandlers{name: name, started: time.Now(), health: hr, hive: hi}
	mux.HandleFunc("GET /v1/status", st.status)
	mux.HandleFunc("GET /v1/healthz", st.healthz)
	// Kubernetes probes conventionally use these paths.
	mux.HandleFunc("GET /healthz", st.healthz)
	mux.HandleFunc("GET /readyz", st.healthz)
	for _, hd := range handlers {
		if err := register(mux, hd); err != nil {
			return nil, err
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s in this agent (is the CLI newer than the agent?)", r.Method, r.URL.Path))
	})
	return &server{
		cfg:    cfg,
		log:    log,
		health: h,
		srv:    &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done:   make(chan struct{}),
	}, nil
}

// register adds a handler, turning a duplicate pattern (which makes ServeMux
// panic) into an error that names it.
func register(mux *http.ServeMux, hd Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("api handler %q: %v", hd.Pattern, r)
		}
	}()
	mux.Handle(hd.Pattern, hd.Handler)
	return nil
}

func (s *server) start(context.Context) error {
	if p := s.cfg.SocketPath; p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return fmt.Errorf("--socket-path %s: %w", p, err)
		}
		// A stale socket from a previous run would make Listen fail; a live
		// agent on the same path is detected by dialling it first.
		if c, err := net.DialTimeout("unix", p, 200*time.Millisecond); err == nil {
			c.Close()
			return fmt.Errorf("--socket-path %s: another agent is already serving on it", p)
		}
		_ = os.Remove(p)
		ln, err := net.Listen("unix", p)
		if err != nil {
			return fmt.Errorf("--socket-path %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o660); err != nil {
			ln.Close()
			return fmt.Errorf("--socket-path %s: %w", p, err)
		}
		s.lns = append(s.lns, ln)
	}
	if a := s.cfg.Listen; a != "" {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range s.lns {
				l.Close()
			}
			return fmt.Errorf("--api-serve-addr %s: %w", a, err)
		}
		s.lns = append(s.lns, ln)
	}
	var addrs []string
	for _, ln := range s.lns {
		addrs = append(addrs, ln.Addr().String())
		go func() {
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.health.Degraded("serving failed", err)
				s.log.Error("API server failed", "address", ln.Addr().String(), "error", err)
			}
		}()
	}
	s.health.OK("serving on " + strings.Join(addrs, ", "))
	s.log.Info("API serving", "addresses", addrs)
	return nil
}

func (s *server) stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if p := s.cfg.SocketPath; p != "" {
		_ = os.Remove(p)
	}
	return err
}
