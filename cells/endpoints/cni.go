package endpoints

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/hivenet/hivenet/cells/ipam"
)

// CNIRequest is what hivenet-cni sends the agent for ADD, DEL and CHECK: the
// CNI arguments as the runtime gave them.
type CNIRequest struct {
	ContainerID string          `json:"containerID"`
	Netns       string          `json:"netns"`
	IfName      string          `json:"ifName"`
	Args        string          `json:"args,omitempty"`
	Config      json.RawMessage `json:"config"`
}

// cniError is a CNI error with the HTTP status the agent answers it with.
type cniError struct {
	status int
	err    *types.Error
}

func newCNIError(status int, code uint, msg string, err error) *cniError {
	details := ""
	if err != nil {
		details = err.Error()
	}
	return &cniError{status: status, err: &types.Error{Code: code, Msg: msg, Details: details}}
}

// cniHandler decodes a CNIRequest, runs op and answers with its result (JSON)
// or a CNI error body, which hivenet-cni passes on to the runtime as is.
func (m *manager) cniHandler(op func(context.Context, *CNIRequest, *types.PluginConf) (any, *cniError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req CNIRequest
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			writeCNIError(w, newCNIError(http.StatusBadRequest, types.ErrDecodingFailure, "cannot decode CNI request", err))
			return
		}
		var conf types.PluginConf
		if err := json.Unmarshal(req.Config, &conf); err != nil {
			writeCNIError(w, newCNIError(http.StatusBadRequest, types.ErrDecodingFailure, "cannot decode network configuration", err))
			return
		}
		if req.ContainerID == "" || req.IfName == "" {
			writeCNIError(w, newCNIError(http.StatusBadRequest, types.ErrInvalidEnvironmentVariables, "CNI_CONTAINERID and CNI_IFNAME are required", nil))
			return
		}
		res, cerr := op(r.Context(), &req, &conf)
		if cerr != nil {
			m.log.Warn("CNI request failed", "container", req.ContainerID, "ifname", req.IfName, "error", cerr.err.Msg, "details", cerr.err.Details)
			writeCNIError(w, cerr)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if res == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	})
}

func writeCNIError(w http.ResponseWriter, e *cniError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(e.err)
}

// cniArgs parses CNI_ARGS ("K8S_POD_NAMESPACE=default;K8S_POD_NAME=client;...").
func cniArgs(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

func (m *manager) cniAdd(ctx context.Context, req *CNIRequest, conf *types.PluginConf) (any, *cniError) {
	if req.Netns == "" {
		return nil, newCNIError(http.StatusBadRequest, types.ErrInvalidEnvironmentVariables, "CNI_NETNS is required for ADD", nil)
	}
	args := cniArgs(req.Args)
	ep, err := m.add(ctx, AddRequest{
		ContainerID: req.ContainerID, IfName: req.IfName, Netns: req.Netns,
		Namespace: args["K8S_POD_NAMESPACE"], Pod: args["K8S_POD_NAME"],
	})
	switch {
	case err == nil:
	case errors.Is(err, ipam.ErrPoolExhausted):
		return nil, newCNIError(http.StatusServiceUnavailable, types.ErrTryAgainLater, "no pod address left on this node", err)
	case errors.Is(err, errNetnsGone):
		return nil, newCNIError(http.StatusNotFound, types.ErrUnknownContainer, "pod network namespace not found", err)
	case errors.Is(err, errNotReady), errors.Is(err, ipam.ErrNotStarted):
		return nil, newCNIError(http.StatusServiceUnavailable, types.ErrTryAgainLater, "agent is starting", err)
	default:
		return nil, newCNIError(http.StatusInternalServerError, types.ErrInternal, "cannot create endpoint", err)
	}
	res, err := cniResult(ep).GetAsVersion(conf.CNIVersion)
	if err != nil {
		return nil, newCNIError(http.StatusBadRequest, types.ErrIncompatibleCNIVersion, "cannot express the result in the requested CNI version", err)
	}
	return res, nil
}

func (m *manager) cniDel(ctx context.Context, req *CNIRequest, _ *types.PluginConf) (any, *cniError) {
	if err := m.del(ctx, req.ContainerID, req.IfName); err != nil {
		if errors.Is(err, errNotReady) {
			return nil, newCNIError(http.StatusServiceUnavailable, types.ErrTryAgainLater, "agent is starting", err)
		}
		return nil, newCNIError(http.StatusInternalServerError, types.ErrInternal, "cannot delete endpoint", err)
	}
	return nil, nil
}

func (m *manager) cniCheck(_ context.Context, req *CNIRequest, _ *types.PluginConf) (any, *cniError) {
	if err := m.check(req.ContainerID, req.IfName); err != nil {
		code := uint(types.ErrInternal)
		if errors.Is(err, errNetnsGone) {
			code = types.ErrUnknownContainer
		}
		return nil, newCNIError(http.StatusConflict, code, "endpoint check failed", err)
	}
	return nil, nil
}

// cniResult describes an endpoint as CNI 1.1 does: the node-side and pod-side
// interfaces, the /32 address with the router as gateway, and the default
// route.
func cniResult(ep *Endpoint) *current.Result {
	hostMAC := ep.HostMAC
	podIf := 1
	return &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: ep.HostIfName, Mac: hostMAC},
			{Name: ep.IfName, Mac: ep.MAC, Sandbox: ep.Netns},
		},
		IPs: []*current.IPConfig{{
			Interface: &podIf,
			Address:   *hostNet(ep.IPv4),
			Gateway:   ep.Router.AsSlice(),
		}},
		Routes: []*types.Route{{
			Dst: net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			GW:  ep.Router.AsSlice(),
		}},
	}
}
