package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/policy"
	"github.com/hivenet/hivenet/test/box"
	"github.com/hivenet/hivenet/test/cluster"
)

// BenchmarkPolicyChangeToMap measures policy-change-to-enforced latency in
// the box as far as the kernel's policy map: from the NetworkPolicy create
// (or delete) returning to the server's per-endpoint map holding the new
// entries, polled every millisecond through the agent's API. Each op is one
// create and one delete. Reports p50/p99 over all changes.
func BenchmarkPolicyChangeToMap(b *testing.B) {
	c := upClusterB(b, 1)
	ctx := context.Background()
	n1 := c.Nodes[0]
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, echoPod("server", n1.Name), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	var epID uint16
	waitB(b, time.Minute, func() bool {
		ep, err := endpointOf(n1, "server")
		epID = ep.ID
		return err == nil && ep.Identity != 0
	})
	get := func() []policy.MapEntry {
		var es []policy.MapEntry
		_ = agentJSON(n1, fmt.Sprintf("/v1/bpf/policy/%d", epID), &es)
		return es
	}
	allowAll := func() bool { return hasEntry(get(), "Allow", "Ingress", 0, "ANY") }
	denied := func() bool {
		es := get()
		return len(es) > 0 && !hasEntry(es, "Allow", "Ingress", 0, "ANY") && hasEntry(es, "Allow", "Ingress", 1, "ANY")
	}
	waitB(b, time.Minute, allowAll)
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-server"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	var lat []time.Duration
	for b.Loop() {
		if _, err := c.Client.NetworkingV1().NetworkPolicies("default").Create(ctx, np, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, waitB(b, 10*time.Second, denied))
		if err := c.Client.NetworkingV1().NetworkPolicies("default").Delete(ctx, np.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, waitB(b, 10*time.Second, allowAll))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
}

func waitB(b *testing.B, timeout time.Duration, cond func() bool) time.Duration {
	b.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatalf("condition not met within %s", timeout)
	return 0
}

// upClusterB is upCluster for a benchmark: it builds the binaries into a
// directory of its own and brings up a box torn down at the end.
func upClusterB(b *testing.B, nodes int) *cluster.Cluster {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Fatal("the cluster-in-a-box needs root")
	}
	if err := box.CheckBinaries(box.DefaultBinDir()); err != nil {
		b.Fatalf("%v (make k8s-bins)", err)
	}
	bins := b.TempDir()
	for name, pkg := range map[string]string{
		"hivenet-agent": "./daemon", "hivenet-operator": "./operator", "hivenet": "./cli",
		"hivenet-cni": "./cni", "hivenet-box": "./test/cmd/hivenet-box",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bins, name), pkg)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	r := make([]byte, 3)
	_, _ = rand.Read(r)
	dir := b.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Up(ctx, cluster.Config{
		Name: "hvpo" + hex.EncodeToString(r)[:4], Nodes: nodes, Dir: dir, BinDir: bins,
		Subnet: fmt.Sprintf("192.168.%d.0/24", 201+int(r[2])%50),
	})
	if err != nil {
		b.Fatalf("cluster up: %v", err)
	}
	b.Cleanup(c.Down)
	return c
}
