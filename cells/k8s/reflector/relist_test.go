package reflector_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/cells/k8s/reflector"
	"github.com/hivenet/hivenet/statedb"
)

// TestRelistReconciles drives the reflector with scripted listings: after a
// "resource version too old" watch error it relists, and the relist turns
// into exactly the difference: the vanished object deleted, the changed one
// updated, the unchanged one untouched.
func TestRelistReconciles(t *testing.T) {
	svc := func(name, rv string) corev1.Service {
		return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv}}
	}
	var (
		mu       sync.Mutex
		lists    = 0
		watchers = make(chan *watch.FakeWatcher, 4)
	)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			lists++
			if lists == 1 {
				return &corev1.ServiceList{ListMeta: metav1.ListMeta{ResourceVersion: "3"},
					Items: []corev1.Service{svc("a", "1"), svc("b", "2"), svc("c", "3")}}, nil
			}
			return &corev1.ServiceList{ListMeta: metav1.ListMeta{ResourceVersion: "9"},
				Items: []corev1.Service{svc("a", "7"), svc("c", "3")}}, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			w := watch.NewFake()
			watchers <- w
			return w, nil
		},
	}
	db := statedb.New()
	tbl := statedb.MustNewTable("services", k8s.NameIndex[*corev1.Service]())
	if err := db.RegisterTable(tbl); err != nil {
		t.Fatal(err)
	}
	r, err := reflector.New(db, reflector.Config[*corev1.Service]{Name: "services", Table: tbl, ListerWatcher: lw}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wtxn := db.WriteTxn(tbl)
	changes, err := tbl.Changes(wtxn)
	if err != nil {
		t.Fatal(err)
	}
	wtxn.Commit()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	_, initCh := tbl.Initialized(db.ReadTxn())
	<-initCh
	if got := seen(changes, db); fmt.Sprint(got) != "[ns/a ns/b ns/c]" {
		t.Fatalf("initial changes %v", got)
	}

	// The watch reports that its resource version expired.
	w := <-watchers
	w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})

	for {
		_, watch := tbl.AllWatch(db.ReadTxn())
		if tbl.NumObjects(db.ReadTxn()) == 2 {
			break
		}
		select {
		case <-watch:
		case <-ctx.Done():
			t.Fatal("relist not applied")
		}
	}
	if got := seen(changes, db); fmt.Sprint(got) != "[-ns/b ns/a]" {
		t.Fatalf("relist changes %v, want [-ns/b ns/a] (c unchanged)", got)
	}
}

// seen returns the changes since the last call, deletes prefixed with "-".
func seen(it statedb.ChangeIterator[*corev1.Service], db *statedb.DB) []string {
	var out []string
	seq, _ := it.Next(db.ReadTxn())
	for ch := range seq {
		s := k8s.KeyOf(ch.Object).String()
		if ch.Deleted {
			s = "-" + s
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
