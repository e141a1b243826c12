package k8s_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2alpha1"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/cells/k8s/crds"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/test/box"
)

// tables is every table AgentCell provides, pulled out of the hive.
type tables struct {
	cell.In

	Pods            statedb.Table[*corev1.Pod]
	Namespaces      statedb.Table[*corev1.Namespace]
	Services        statedb.Table[*corev1.Service]
	EndpointSlices  statedb.Table[*discoveryv1.EndpointSlice]
	Nodes           statedb.Table[*corev1.Node]
	NetworkPolicies statedb.Table[*networkingv1.NetworkPolicy]
	CNPs            statedb.Table[*v2.CiliumNetworkPolicy]
	CCNPs           statedb.Table[*v2.CiliumClusterwideNetworkPolicy]
	CiliumNodes     statedb.Table[*v2.CiliumNode]
	Identities      statedb.Table[*v2.CiliumIdentity]
	CEPs            statedb.Table[*v2.CiliumEndpoint]
	Pools           statedb.Table[*v2.CiliumLoadBalancerIPPool]
	L2Policies      statedb.Table[*v2alpha1.CiliumL2AnnouncementPolicy]
	EGPs            statedb.Table[*v2.CiliumEgressGatewayPolicy]
}

// TestAgentTables runs the agent's k8s cells in a hive against a real API
// server: every table initialises and reflects objects created through the
// API, and the pods table holds only this node's pods.
func TestAgentTables(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cp, err := box.Start(ctx, box.Config{})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(cp.Stop)
	cs, err := client.NewClientset(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := crds.Register(ctx, cs.Apiextensions, nil); err != nil {
		t.Fatal(err)
	}

	var (
		db  *statedb.DB
		tbl tables
	)
	h := cell.New(
		statedb.Cell,
		k8s.ClientCell,
		k8s.AgentCell,
		cell.Invoke(func(d *statedb.DB, t tables) { db, tbl = d, t }),
	)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse([]string{"--k8s-kubeconfig-path=" + cp.Kubeconfig, "--k8s-node-name=hvk8s-node-1",
		"--k8s-client-qps=100", "--k8s-client-burst=200"}); err != nil {
		t.Fatal(err)
	}
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	h.SetLogger(slog.New(slog.NewTextHandler(logOut, nil)))
	if err := h.Start(ctx); err != nil {
		t.Fatalf("start hive: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Stop(context.Background()); err != nil {
			t.Errorf("stop hive: %v", err)
		}
	})

	metas := []statedb.TableMeta{tbl.Pods, tbl.Namespaces, tbl.Services, tbl.EndpointSlices, tbl.Nodes,
		tbl.NetworkPolicies, tbl.CNPs, tbl.CCNPs, tbl.CiliumNodes, tbl.Identities, tbl.CEPs, tbl.Pools,
		tbl.L2Policies, tbl.EGPs}
	for _, m := range metas {
		_, ch := m.Initialized(db.ReadTxn())
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("table %s not initialised; pending %v", m.Name(), m.PendingInitializers(db.ReadTxn()))
		}
	}
	waitRow(t, ctx, db, tbl.Namespaces, k8s.NameIndex[*corev1.Namespace]().Query(k8s.Key{Name: "kube-system"}))

	// Objects created through the API, one or more per table.
	kubectlApply(t, cp, "../../test/box/testdata/cilium-valid.yaml")
	core := cs.CoreV1()
	mustCreate(t, func() error {
		_, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hvk8s-ns"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := core.Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "hvk8s-node-1"}}, metav1.CreateOptions{})
		return err
	})
	for _, p := range []struct{ name, node string }{{"local", "hvk8s-node-1"}, {"remote", "hvk8s-node-2"}} {
		mustCreate(t, func() error {
			_, err := core.Pods("default").Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: p.name},
				Spec:       corev1.PodSpec{NodeName: p.node, Containers: []corev1.Container{{Name: "c", Image: "x"}}},
			}, metav1.CreateOptions{})
			return err
		})
	}
	mustCreate(t, func() error {
		_, err := core.Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "server"},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "server"}, Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.NetworkingV1().NetworkPolicies("default").Create(ctx, &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "deny-all"},
			Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		}, metav1.CreateOptions{})
		return err
	})

	waitRow(t, ctx, db, tbl.Namespaces, k8s.NameIndex[*corev1.Namespace]().Query(k8s.Key{Name: "hvk8s-ns"}))
	waitRow(t, ctx, db, tbl.Nodes, k8s.NameIndex[*corev1.Node]().Query(k8s.Key{Name: "hvk8s-node-1"}))
	waitRow(t, ctx, db, tbl.Pods, k8s.NameIndex[*corev1.Pod]().Query(k8s.Key{Namespace: "default", Name: "local"}))
	waitRow(t, ctx, db, tbl.Services, k8s.NameIndex[*corev1.Service]().Query(k8s.Key{Namespace: "default", Name: "server"}))
	// The endpointslice controller makes the service's slice.
	waitRow(t, ctx, db, tbl.EndpointSlices, k8s.EndpointSliceServiceIndex.Query(k8s.Key{Namespace: "default", Name: "server"}))
	waitRow(t, ctx, db, tbl.NetworkPolicies, k8s.NameIndex[*networkingv1.NetworkPolicy]().Query(k8s.Key{Namespace: "default", Name: "deny-all"}))
	cnp := waitRow(t, ctx, db, tbl.CNPs, k8s.NameIndex[*v2.CiliumNetworkPolicy]().Query(k8s.Key{Namespace: "default", Name: "allow-frontend"}))
	if len(cnp.Spec.Ingress) != 2 {
		t.Errorf("CNP in table has %d ingress rules, want 2", len(cnp.Spec.Ingress))
	}
	waitRow(t, ctx, db, tbl.CCNPs, k8s.NameIndex[*v2.CiliumClusterwideNetworkPolicy]().Query(k8s.Key{Name: "deny-world"}))
	waitRow(t, ctx, db, tbl.CiliumNodes, k8s.NameIndex[*v2.CiliumNode]().Query(k8s.Key{Name: "node-a"}))
	waitRow(t, ctx, db, tbl.Identities, k8s.NameIndex[*v2.CiliumIdentity]().Query(k8s.Key{Name: "12345"}))
	waitRow(t, ctx, db, tbl.CEPs, k8s.NameIndex[*v2.CiliumEndpoint]().Query(k8s.Key{Namespace: "default", Name: "frontend-1"}))
	// Applied as v2alpha1, reflected as v2.
	waitRow(t, ctx, db, tbl.Pools, k8s.NameIndex[*v2.CiliumLoadBalancerIPPool]().Query(k8s.Key{Name: "alpha-pool"}))
	waitRow(t, ctx, db, tbl.L2Policies, k8s.NameIndex[*v2alpha1.CiliumL2AnnouncementPolicy]().Query(k8s.Key{Name: "l2policy"}))
	waitRow(t, ctx, db, tbl.EGPs, k8s.NameIndex[*v2.CiliumEgressGatewayPolicy]().Query(k8s.Key{Name: "egress-sample"}))

	// Only this node's pods reach the agent.
	for p := range tbl.Pods.All(db.ReadTxn()) {
		if p.Spec.NodeName != "hvk8s-node-1" {
			t.Errorf("pod %s of node %q in the agent's table", p.Name, p.Spec.NodeName)
		}
	}
	if n := len(collect(tbl.Pods.List(db.ReadTxn(), k8s.PodNodeIndex.Query("hvk8s-node-1")))); n != 1 {
		t.Errorf("node index finds %d local pods, want 1", n)
	}

	// A delete through the API removes the row.
	if err := core.Pods("default").Delete(ctx, "local", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, db, tbl.Pods, k8s.NameIndex[*corev1.Pod]().Query(k8s.Key{Namespace: "default", Name: "local"}))
}

func mustCreate(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func collect[T any](seq func(func(T, statedb.Revision) bool)) []T {
	var out []T
	for o := range seq {
		out = append(out, o)
	}
	return out
}

func waitRow[T any](t *testing.T, ctx context.Context, db *statedb.DB, tbl statedb.Table[T], q statedb.Query[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		obj, _, watch, found := tbl.GetWatch(db.ReadTxn(), q)
		if found {
			return obj
		}
		select {
		case <-watch:
		case <-ctx.Done():
			t.Fatalf("table %s: row not found in time", tbl.Name())
		}
	}
}

func waitGone[T any](t *testing.T, ctx context.Context, db *statedb.DB, tbl statedb.Table[T], q statedb.Query[T]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, _, watch, found := tbl.GetWatch(db.ReadTxn(), q)
		if !found {
			return
		}
		select {
		case <-watch:
		case <-ctx.Done():
			t.Fatalf("table %s: row still there", tbl.Name())
		}
	}
}

func kubectlApply(t *testing.T, cp *box.ControlPlane, file string) {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(cp.BinDir(), "kubectl"), "--kubeconfig", cp.Kubeconfig, "apply", "-f", abs).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}
