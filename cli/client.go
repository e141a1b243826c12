package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

const (
	socketEnv = "HIVENET_SOCKET"
	// defaultSocketPath matches the agent's default --socket-path.
	defaultSocketPath = "/var/run/hivenet/hivenet.sock"
)

var socketPath string

func defaultSocket() string {
	if s := os.Getenv(socketEnv); s != "" {
		return s
	}
	return defaultSocketPath
}

// errAgentUnreachable marks errors where no agent answered at all, as opposed
// to an agent that answered with an error.
var errAgentUnreachable = errors.New("cannot reach the hivenet agent")

func agentClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socketPath)
			},
		},
		Timeout: 30 * time.Second,
	}
}

// agentGet performs GET path against the agent's API socket. Errors are one
// line for the user: an unreachable agent says where it looked and what to do;
// a non-2xx answer carries the agent's own error message.
func agentGet(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://hivenet-agent"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := agentClient().Do(req)
	if err != nil {
		return nil, unreachable(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, apiError(resp)
	}
	return resp, nil
}

func unreachable(err error) error {
	reason := "is the agent running?"
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT):
		reason = "no socket there; is the agent running on this node?"
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused; the agent is not running or is restarting"
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES):
		reason = "permission denied; run as root"
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timed out"
	}
	return fmt.Errorf("%w at %s: %s (set --socket or %s to use another path)", errAgentUnreachable, socketPath, reason, socketEnv)
}

func apiError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("agent: %s", e.Error)
	}
	return fmt.Errorf("agent answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
}

// agentGetJSON GETs path and decodes the JSON answer into v.
func agentGetJSON(ctx context.Context, path string, v any) error {
	resp, err := agentGet(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decoding the agent's answer to %s: %w", path, err)
	}
	return nil
}
