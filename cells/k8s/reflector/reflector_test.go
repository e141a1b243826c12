package reflector_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/cells/k8s/reflector"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/test/box"
)

const ns = "default"

func cm(name, v string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"v": v}}
}

// TestReflectorAgainstAPIServer runs a reflector of ConfigMaps against a
// real API server: the initial listing lands in one transaction with the
// initializer, watch events follow, and an API server outage during which
// an object is deleted behind its back (directly in etcd, then compacted, so
// the watch's resource version is gone) is healed by a relist that deletes
// only that object and never drops the others.
func TestReflectorAgainstAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cp, err := box.Start(ctx, box.Config{NoControllerManager: true})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(cp.Stop)
	cs, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm(name, "1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// client-go's first list asks for resourceVersion 0, which the API
	// server answers from its watch cache, possibly a moment behind the
	// writes above. Wait until that cache has them, so the listing the
	// reflector gets is known to hold all three.
	waitCtx, waitCancel := context.WithTimeout(ctx, 30*time.Second)
	defer waitCancel()
	for {
		l, err := cs.CoreV1().ConfigMaps(ns).List(waitCtx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			t.Fatalf("list from the watch cache: %v", err)
		}
		if len(l.Items) >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	db := statedb.New()
	tbl, err := statedb.NewTable("test-configmaps", k8s.NameIndex[*corev1.ConfigMap]())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterTable(tbl); err != nil {
		t.Fatal(err)
	}
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "configmaps", ns, fields.Everything())
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := reflector.New(db, reflector.Config[*corev1.ConfigMap]{
		Name:          "configmaps",
		Table:         tbl,
		ListerWatcher: lw,
		// kube-root-ca.crt and friends are not this test's business.
		Transform: func(obj any) (*corev1.ConfigMap, bool) {
			c, ok := obj.(*corev1.ConfigMap)
			return c, ok && len(c.Name) == 1
		},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	if init, _ := tbl.Initialized(db.ReadTxn()); init {
		t.Fatal("table initialised before the reflector ran")
	}

	wtxn := db.WriteTxn(tbl)
	changes, err := tbl.Changes(wtxn)
	if err != nil {
		t.Fatal(err)
	}
	wtxn.Commit()
	defer changes.Close()

	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() {
		rcancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// Initialisation: complete only with the whole listing in.
	_, initCh := tbl.Initialized(db.ReadTxn())
	select {
	case <-initCh:
	case <-ctx.Done():
		t.Fatal("table not initialised")
	}
	if n := tbl.NumObjects(db.ReadTxn()); n != 3 {
		t.Fatalf("initialised with %d objects, want all 3", n)
	}

	// Watch: create, update, delete.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm("d", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm("a", "2"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTable(t, ctx, db, tbl, map[string]string{"a": "2", "c": "1", "d": "1"})

	// Follow the changes from here on: nothing but "c" may be deleted.
	drain := func() (deleted []string) {
		seq, _ := changes.Next(db.ReadTxn())
		for ch := range seq {
			if ch.Deleted {
				deleted = append(deleted, ch.Object.Name)
			}
		}
		return
	}
	drain()

	// Outage: stop the API server, delete "c" in etcd and compact, so no
	// watch can ever deliver that delete, then restart.
	cp.StopAPIServer()
	if n := tbl.NumObjects(db.ReadTxn()); n != 3 {
		t.Fatalf("table lost rows while the API server is down: %d", n)
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{cp.EtcdURL()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	del, err := etcd.Delete(ctx, "/registry/configmaps/"+ns+"/c")
	if err != nil || del.Deleted != 1 {
		t.Fatalf("delete in etcd: %v (deleted %d)", err, del.Deleted)
	}
	if _, err := etcd.Compact(ctx, del.Header.Revision); err != nil {
		t.Fatalf("compact etcd: %v", err)
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitTable(t, ctx, db, tbl, map[string]string{"a": "2", "d": "1"})
	if got := drain(); len(got) != 1 || got[0] != "c" {
		t.Fatalf("deletes seen across the relist: %v, want only [c]", got)
	}

	// And the watch is live again.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm("e", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTable(t, ctx, db, tbl, map[string]string{"a": "2", "d": "1", "e": "1"})
}

// waitTable waits until the table holds exactly want (name -> data["v"]).
func waitTable(t *testing.T, ctx context.Context, db *statedb.DB, tbl statedb.Table[*corev1.ConfigMap], want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		objs, watch := tbl.AllWatch(db.ReadTxn())
		got := map[string]string{}
		for o := range objs {
			got[o.Name] = o.Data["v"]
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		select {
		case <-watch:
		case <-ctx.Done():
			t.Fatalf("table holds %v, want %v", got, want)
		}
	}
}
