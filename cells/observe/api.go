package observe

import (
	"bufio"
	"context"
	"net/http"
	"sync"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/observe/flow"
)

// ContentTypeNDJSON is the content type of GET /v1/flows: one JSON object
// per line.
const ContentTypeNDJSON = "application/x-ndjson"

type apiHandlersOut struct {
	cell.Out
	Flows  api.Handler `group:"api-handlers"`
	Status api.Handler `group:"api-handlers"`
}

func newAPIHandlers(o *Observer) apiHandlersOut {
	h := &flowsHandler{o: o}
	return apiHandlersOut{
		Flows:  api.Handler{Pattern: "GET /v1/flows", Handler: http.HandlerFunc(h.flows)},
		Status: api.Handler{Pattern: "GET /v1/flows/status", Handler: http.HandlerFunc(h.status)},
	}
}

type flowsHandler struct {
	o *Observer
	// shutdown maps each http.Server that sent us a request to a channel
	// closed when it starts shutting down: Shutdown waits for requests to
	// finish, and a follow stream finishes only when told to.
	shutdown sync.Map // *http.Server → chan struct{}
}

func (h *flowsHandler) serverShutdown(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return nil
	}
	ch := make(chan struct{})
	v, loaded := h.shutdown.LoadOrStore(srv, ch)
	if !loaded {
		srv.RegisterOnShutdown(func() { close(ch) })
	}
	return v.(chan struct{})
}

func (h *flowsHandler) flows(w http.ResponseWriter, r *http.Request) {
	q, err := flow.ParseQuery(r.URL.Query())
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if q.Follow {
		if sd := h.serverShutdown(r); sd != nil {
			go func() {
				select {
				case <-sd:
					cancel()
				case <-ctx.Done():
				}
			}()
		}
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	rc := http.NewResponseController(w)
	failed := false
	flush := func() {
		if failed {
			return
		}
		if bw.Flush() != nil || rc.Flush() != nil {
			// The client is gone; the request context ends the stream.
			failed = true
			cancel()
		}
	}
	flows, err := h.o.Query(ctx, q, flush)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", ContentTypeNDJSON)
	w.WriteHeader(http.StatusOK)
	// Headers go out now so a follower with nothing to show yet knows the
	// stream is open.
	rc.Flush()
	node := h.o.NodeName()
	var line []byte
	for rec := range flows {
		f := h.o.ToFlow(rec)
		resp := flow.Response{Flow: f, NodeName: node, Time: f.Time}
		line = append(resp.AppendJSON(line[:0]), '\n')
		if _, err := bw.Write(line); err != nil {
			return
		}
	}
	flush()
}

func (h *flowsHandler) status(w http.ResponseWriter, _ *http.Request) {
	api.WriteJSON(w, http.StatusOK, h.o.Status())
}
