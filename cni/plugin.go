package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/hivenet/hivenet/cells/endpoints"
)

// defaultSocketPath matches the agent's default --socket-path.
const defaultSocketPath = "/var/run/hivenet/hivenet.sock"

// NetConf is hivenet's network configuration as it appears in the conflist.
type NetConf struct {
	types.PluginConf
	// SocketPath is the agent's API socket.
	SocketPath string `json:"socket-path,omitempty"`
}

func loadConf(stdin []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to parse network configuration", err.Error())
	}
	if conf.SocketPath == "" {
		conf.SocketPath = defaultSocketPath
	}
	return conf, nil
}

func cmdAdd(args *skel.CmdArgs) error   { return forward("add", args) }
func cmdDel(args *skel.CmdArgs) error   { return forward("del", args) }
func cmdCheck(args *skel.CmdArgs) error { return forward("check", args) }

// cmdStatus reports whether the agent can serve ADD: it must answer its health
// endpoint. CNI code 50 tells the runtime the plugin is not available yet.
func cmdStatus(args *skel.CmdArgs) error {
	conf, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://hivenet-agent/v1/healthz", nil)
	resp, err := client(conf.SocketPath).Do(req)
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, "hivenet agent not reachable", fmt.Sprintf("%s: %v", conf.SocketPath, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return types.NewError(types.ErrPluginNotAvailable, "hivenet agent not healthy", string(bytes.TrimSpace(body)))
	}
	return nil
}

func client(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

// forward posts the request to the agent's /v1/cni/<op> and prints the
// agent's CNI result. The agent answers errors as CNI error JSON, which is
// passed on as is so the runtime sees the agent's code and message.
func forward(op string, args *skel.CmdArgs) error {
	conf, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(endpoints.CNIRequest{
		ContainerID: args.ContainerID, Netns: args.Netns, IfName: args.IfName,
		Args: args.Args, Config: args.StdinData,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://hivenet-agent/v1/cni/"+op, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client(conf.SocketPath).Do(req)
	if err != nil {
		return types.NewError(types.ErrTryAgainLater, "hivenet agent not reachable", fmt.Sprintf("%s: %v", conf.SocketPath, err))
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return types.NewError(types.ErrIOFailure, "reading the agent's answer", err.Error())
	}
	if resp.StatusCode/100 != 2 {
		var cniErr types.Error
		if json.Unmarshal(out, &cniErr) == nil && cniErr.Code != 0 {
			return &cniErr
		}
		return types.NewError(types.ErrInternal, fmt.Sprintf("hivenet agent cannot %s: %s", op, resp.Status), string(bytes.TrimSpace(out)))
	}
	if op == "add" {
		// The agent's answer is the CNI result for the configured version.
		_, err = fmt.Print(string(out))
		return err
	}
	return nil
}
