package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hivenet/hivenet/statedb"
)

// healthChecker serves the health-check node port of every
// externalTrafficPolicy: Local service, as kube-proxy does: 200 while the
// node has a local active backend for it, 503 otherwise, so an external
// load balancer sends traffic only to nodes that can serve it.
type healthChecker struct {
	db   *statedb.DB
	svcs statedb.Table[*Service]
	log  *slog.Logger

	mu      sync.Mutex
	servers map[uint16]*hcServer
}

type hcServer struct {
	srv   *http.Server
	state sync.Map // "svc" -> hcState
}

type hcState struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints int `json:"localEndpoints"`
}

func (h *hcServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	st, _ := h.state.Load("svc")
	s, _ := st.(hcState)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if s.LocalEndpoints == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(s)
}

func (hc *healthChecker) run(ctx context.Context, health health) error {
	defer hc.closeAll()
	for {
		txn := hc.db.ReadTxn()
		svcs, watch := hc.svcs.AllWatch(txn)
		want := map[uint16]hcState{}
		for s := range svcs {
			if s.HealthCheckNodePort == 0 || s.ExtTrafficPolicy != TrafficPolicyLocal {
				continue
			}
			var st hcState
			st.Service.Namespace, st.Service.Name = s.Name.Namespace, s.Name.Name
			st.LocalEndpoints = s.LocalBackends
			want[s.HealthCheckNodePort] = st
		}
		if err := hc.sync(want); err != nil {
			health.Degraded("health-check node ports", err)
		} else {
			health.OK(fmt.Sprintf("%d health-check node ports", len(want)))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		}
	}
}

func (hc *healthChecker) sync(want map[uint16]hcState) error {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	var errs []error
	for port, srv := range hc.servers {
		if _, ok := want[port]; !ok {
			srv.srv.Close()
			delete(hc.servers, port)
		}
	}
	for port, st := range want {
		srv := hc.servers[port]
		if srv == nil {
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(int(port)))
			if err != nil {
				errs = append(errs, fmt.Errorf("health-check node port %d of %s/%s: %w", port, st.Service.Namespace, st.Service.Name, err))
				continue
			}
			srv = &hcServer{}
			srv.srv = &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
			go func() {
				if err := srv.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					hc.log.Warn("Health-check node port stopped", "port", port, "error", err)
				}
			}()
			hc.servers[port] = srv
		}
		srv.state.Store("svc", st)
	}
	return errors.Join(errs...)
}

func (hc *healthChecker) closeAll() {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	for port, srv := range hc.servers {
		srv.srv.Close()
		delete(hc.servers, port)
	}
}
