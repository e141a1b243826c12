package nodes

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/statedb"
)

type nopHealth struct{}

func (nopHealth) OK(string)                     {}
func (nopHealth) Degraded(string, error)        {}
func (nopHealth) Stopped(string)                {}
func (h nopHealth) NewScope(string) cell.Health { return h }

func TestSyncerFollowsInputsAndInitialisesAfterBoth(t *testing.T) {
	db := statedb.New()
	k8sNodes, _ := k8s.NewNodesTable()
	cns, _ := k8s.NewCiliumNodesTable()
	tbl, _ := NewTable()
	for _, tb := range []statedb.TableMeta{k8sNodes, cns, tbl} {
		if err := db.RegisterTable(tb); err != nil {
			t.Fatal(err)
		}
	}
	wtxn := db.WriteTxn(k8sNodes, cns, tbl)
	doneNodes := k8sNodes.RegisterInitializer(wtxn, "list")
	doneCNs := cns.RegisterInitializer(wtxn, "list")
	s := &syncer{db: db, table: tbl, k8sNodes: k8sNodes, ciliumNodes: cns, local: "a"}
	s.init = tbl.RegisterInitializer(wtxn, "synced")
	wtxn.Commit()

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- s.run(ctx, nopHealth{}) }()
	defer func() { cancel(); <-stopped }()

	write := func(f func(statedb.WriteTxn)) {
		wtxn := db.WriteTxn(k8sNodes, cns)
		f(wtxn)
		wtxn.Commit()
	}
	waitRows := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			var got []string
			for n := range tbl.All(db.ReadTxn()) {
				got = append(got, fmt.Sprintf("%s:%v:%s", n.Name, n.Local, n.RouterIP))
			}
			if fmt.Sprint(got) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("rows %v, want %s", got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	node := func(name, cidr string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	}
	write(func(w statedb.WriteTxn) {
		k8sNodes.Insert(w, node("a", "10.244.0.0/24"))
		k8sNodes.Insert(w, node("b", ""))
		doneNodes(w)
	})
	waitRows("[a:true:10.244.0.1 b:false:invalid IP]")
	if ok, _ := tbl.Initialized(db.ReadTxn()); ok {
		t.Fatal("initialised before the CiliumNode listing")
	}
	write(func(w statedb.WriteTxn) {
		cn := &v2.CiliumNode{ObjectMeta: metav1.ObjectMeta{Name: "b"}}
		cn.Spec.IPAM.PodCIDRs = []string{"10.244.1.0/24"}
		cns.Insert(w, cn)
		doneCNs(w)
	})
	waitRows("[a:true:10.244.0.1 b:false:10.244.1.1]")
	deadline := time.Now().Add(5 * time.Second)
	for ok, _ := tbl.Initialized(db.ReadTxn()); !ok; ok, _ = tbl.Initialized(db.ReadTxn()) {
		if time.Now().After(deadline) {
			t.Fatal("not initialised after both listings")
		}
		time.Sleep(5 * time.Millisecond)
	}
	rev := tbl.Revision(db.ReadTxn())
	// An input change that changes no row writes nothing.
	write(func(w statedb.WriteTxn) {
		n := node("a", "10.244.0.0/24")
		n.Labels = map[string]string{"x": "y"}
		k8sNodes.Insert(w, n)
	})
	time.Sleep(50 * time.Millisecond)
	if got := tbl.Revision(db.ReadTxn()); got != rev {
		t.Fatalf("revision %d -> %d for an irrelevant change", rev, got)
	}
	write(func(w statedb.WriteTxn) {
		k8sNodes.Delete(w, node("b", ""))
		cns.Delete(w, &v2.CiliumNode{ObjectMeta: metav1.ObjectMeta{Name: "b"}})
	})
	waitRows("[a:true:10.244.0.1]")
}
