// Package e2e holds the end-to-end tests that run on the cluster-in-a-box:
// a real control plane, nodes as network namespaces with real agents, pods
// created through the API and wired by the real CNI plugin.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hivenet/hivenet/test/box"
	"github.com/hivenet/hivenet/test/cluster"
	"github.com/hivenet/hivenet/test/testbin"
)

// buildBinaries builds the hivenet binaries the box runs, once per test run.
func buildBinaries(t *testing.T) string {
	t.Helper()
	if err := box.CheckBinaries(box.DefaultBinDir()); err != nil {
		t.Fatalf("%v (make k8s-bins)", err)
	}
	return testbin.Build(t, "hivenet-agent", "hivenet-operator", "hivenet", "hivenet-cni", "hivenet-box")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// upCluster starts a box with a unique name and subnet, torn down when the
// test ends. On failure it dumps the box's logs.
func upCluster(t *testing.T, nodes int, agentArgs ...string) *cluster.Cluster {
	t.Helper()
	bins := buildBinaries(t)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "hve" + hex.EncodeToString(b)[:5]
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Up(ctx, cluster.Config{
		Name: name, Nodes: nodes, Dir: dir, BinDir: bins,
		Subnet:    fmt.Sprintf("192.168.%d.0/24", 201+int(b[2])%50),
		AgentArgs: agentArgs,
	})
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("cluster up: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
		c.Down()
	})
	return c
}

func dumpLogs(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "nodes", "*", "agent.log"))
	more, _ := filepath.Glob(filepath.Join(dir, "operator.log"))
	for _, l := range append(logs, more...) {
		b, _ := os.ReadFile(l)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		t.Logf("--- %s (tail)\n%s", l, b)
	}
}
