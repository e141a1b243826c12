package reflector_test

import (
	"context"
	"fmt"
	"strings"
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

// Example reflects services into a table. The ListerWatcher here is an
// in-memory stand-in; in hivenet it is k8s.ServicesListerWatcher(clientset).
func Example() {
	svc := func(name, rv string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, ResourceVersion: rv}}
	}
	events := watch.NewFake()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			return &corev1.ServiceList{
				ListMeta: metav1.ListMeta{ResourceVersion: "2"},
				Items:    []corev1.Service{*svc("server", "1"), *svc("dns", "2")},
			}, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			return events, nil
		},
	}

	db := statedb.New()
	services := statedb.MustNewTable("services", k8s.NameIndex[*corev1.Service]())
	if err := db.RegisterTable(services); err != nil {
		panic(err)
	}
	r, err := reflector.New(db, reflector.Config[*corev1.Service]{Name: "services", Table: services, ListerWatcher: lw}, nil)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	// Readers wait for the initial listing before trusting the table.
	_, initialized := services.Initialized(db.ReadTxn())
	<-initialized
	show := func() {
		var names []string
		for s := range services.All(db.ReadTxn()) {
			names = append(names, k8s.KeyOf(s).String())
		}
		fmt.Println(strings.Join(names, " "))
	}
	show()

	events.Add(svc("web", "3"))
	events.Delete(svc("dns", "4"))
	waitFor := func(cond func() bool) {
		for !cond() {
			_, w := services.AllWatch(db.ReadTxn())
			select {
			case <-w:
			case <-time.After(time.Second):
			}
		}
	}
	waitFor(func() bool {
		_, _, found := services.Get(db.ReadTxn(), k8s.NameIndex[*corev1.Service]().Query(k8s.Key{Namespace: "default", Name: "dns"}))
		return !found
	})
	show()
	// Output:
	// default/dns default/server
	// default/server default/web
}
