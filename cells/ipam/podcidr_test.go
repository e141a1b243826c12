package ipam_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/cells/statedir"
	"github.com/hivenet/hivenet/statedb"
)

// k8sNodes stands in for the k8s-tables module: a nodes table the test
// writes and the node name.
func k8sNodes(name string, tbl statedb.RWTable[*corev1.Node]) cell.Cell {
	return cell.Provide(
		func(db *statedb.DB) (statedb.Table[*corev1.Node], error) {
			return tbl.ToTable(), db.RegisterTable(tbl)
		},
		func() k8s.NodeName { return k8s.NodeName(name) },
	)
}

func putNode(t *testing.T, db *statedb.DB, tbl statedb.RWTable[*corev1.Node], n *corev1.Node) {
	t.Helper()
	wtxn := db.WriteTxn(tbl)
	if _, _, err := tbl.Insert(wtxn, n); err != nil {
		t.Fatal(err)
	}
	wtxn.Commit()
}

func TestKubernetesModeWaitsForPodCIDRThenRestoresWithoutAPI(t *testing.T) {
	dir := t.TempDir()
	tbl, err := k8s.NewNodesTable()
	if err != nil {
		t.Fatal(err)
	}
	var (
		m           ipam.IPAM
		db          *statedb.DB
		constructed = make(chan struct{})
	)
	// Start (and so the Invoke) runs in another goroutine: the channel
	// hands m and db over without a race.
	h := cell.New(statedb.Cell, statedir.Cell, ipam.Cell, k8sNodes("n1", tbl),
		cell.Invoke(func(i ipam.IPAM, d *statedb.DB) { m, db = i, d; close(constructed) }))
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse([]string{"--state-dir=" + dir}); err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- h.Start(context.Background()) }()

	// Start cannot finish while the Node has no pod CIDR.
	select {
	case <-constructed:
	case err := <-started:
		t.Fatalf("start returned (%v) before constructing the IPAM", err)
	case <-time.After(10 * time.Second):
		t.Fatal("hive did not construct the IPAM")
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	putNode(t, db, tbl, node)
	select {
	case err := <-started:
		t.Fatalf("start returned (%v) before the Node had a pod CIDR", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := m.Allocate("c/eth0", ""); err == nil {
		t.Fatal("allocated before the pod CIDR was known")
	}
	node = node.DeepCopy()
	node.Spec.PodCIDR = "10.244.7.0/24"
	node.Spec.PodCIDRs = []string{"fd00:7::/64", "10.244.7.0/24"}
	putNode(t, db, tbl, node)
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("start did not finish once the Node had a pod CIDR")
	}
	if got := m.Router(); got != netip.MustParseAddr("10.244.7.1") {
		t.Fatalf("router = %s, want 10.244.7.1", got)
	}
	if ip, err := m.Allocate("c/eth0", "default/p"); err != nil || ip != netip.MustParseAddr("10.244.7.2") {
		t.Fatalf("allocate = %s, %v; want 10.244.7.2", ip, err)
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Restarted with no Node in sight (API server down), the agent starts at
	// once from the persisted CIDR and keeps the allocation.
	tbl2, _ := k8s.NewNodesTable()
	var tblA statedb.Table[*ipam.Allocation]
	h = cell.New(statedb.Cell, statedir.Cell, ipam.Cell, k8sNodes("n1", tbl2),
		cell.Invoke(func(i ipam.IPAM, a statedb.Table[*ipam.Allocation], d *statedb.DB) { m, tblA, db = i, a, d }))
	fs = pflag.NewFlagSet("t", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	_ = fs.Parse([]string{"--state-dir=" + dir})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	if m.Range() != netip.MustParsePrefix("10.244.7.0/24") {
		t.Fatalf("restored range %s", m.Range())
	}
	if a, _, ok := tblA.Get(db.ReadTxn(), ipam.ByOwner.Query("c/eth0")); !ok || a.IP != netip.MustParseAddr("10.244.7.2") {
		t.Fatalf("restored allocation = %+v, %v", a, ok)
	}
}

func TestKubernetesModeNeedsK8s(t *testing.T) {
	h := cell.New(statedb.Cell, statedir.Cell, ipam.Cell, cell.Invoke(func(ipam.IPAM) {}))
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	_ = fs.Parse([]string{"--state-dir=" + t.TempDir(), "--ipam=kubernetes"})
	err := h.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--enable-k8s") {
		t.Fatalf("start = %v, want an error naming --enable-k8s", err)
	}
	if err := (ipam.Config{IPAM: "cluster-pool", IPv4Range: "10.0.0.0/24"}).Validate(); err == nil || !strings.Contains(err.Error(), "--ipam") {
		t.Fatalf("unknown mode: %v", err)
	}
}

func TestPodCIDROf(t *testing.T) {
	for _, tc := range []struct {
		spec corev1.NodeSpec
		want string
		err  bool
	}{
		{corev1.NodeSpec{}, "", false},
		{corev1.NodeSpec{PodCIDR: "10.1.2.0/24"}, "10.1.2.0/24", false},
		{corev1.NodeSpec{PodCIDR: "fd00::/64", PodCIDRs: []string{"fd00::/64", "10.1.3.0/24"}}, "10.1.3.0/24", false},
		{corev1.NodeSpec{PodCIDRs: []string{"fd00::/64"}}, "", false},
		{corev1.NodeSpec{PodCIDR: "bogus"}, "", true},
	} {
		got, ok, err := ipam.PodCIDROf(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: tc.spec})
		if (err != nil) != tc.err || (ok && got.String() != tc.want) || (!ok && tc.want != "") {
			t.Errorf("%+v: %s %v %v, want %q err=%v", tc.spec, got, ok, err, tc.want, tc.err)
		}
	}
}

func ExampleRouterOf() {
	fmt.Println(ipam.RouterOf(netip.MustParsePrefix("10.244.3.0/24")))
	// Output: 10.244.3.1
}
