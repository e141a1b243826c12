package reflector_test

import (
	"context"
	"strconv"
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

const benchObjects = 10000

func benchService(i int) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "svc-" + strconv.Itoa(i),
		ResourceVersion: strconv.Itoa(i + 1)}}
}

// BenchmarkReflectorInitialList measures how fast an initial listing of
// 10k services goes from the API client into the table (decode excluded):
// the cost an agent pays at start before its tables initialise.
func BenchmarkReflectorInitialList(b *testing.B) {
	items := make([]corev1.Service, benchObjects)
	for i := range items {
		items[i] = *benchService(i)
	}
	b.ResetTimer()
	for b.Loop() {
		db := statedb.New()
		tbl := statedb.MustNewTable("services", k8s.NameIndex[*corev1.Service]())
		if err := db.RegisterTable(tbl); err != nil {
			b.Fatal(err)
		}
		lw := &cache.ListWatch{
			ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
				return &corev1.ServiceList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}, Items: append([]corev1.Service(nil), items...)}, nil
			},
			WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
				return watch.NewFake(), nil
			},
		}
		r, err := reflector.New(db, reflector.Config[*corev1.Service]{Name: "services", Table: tbl, ListerWatcher: lw}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		_, init := tbl.Initialized(db.ReadTxn())
		<-init
		cancel()
		<-done
	}
	b.ReportMetric(float64(benchObjects*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkReflectorWatchEvents measures watch events into the table: 10k
// service additions streamed through the watch, batched into write
// transactions by the reflector.
func BenchmarkReflectorWatchEvents(b *testing.B) {
	objs := make([]*corev1.Service, benchObjects)
	for i := range objs {
		objs[i] = benchService(i)
	}
	for b.Loop() {
		b.StopTimer()
		db := statedb.New()
		tbl := statedb.MustNewTable("services", k8s.NameIndex[*corev1.Service]())
		if err := db.RegisterTable(tbl); err != nil {
			b.Fatal(err)
		}
		fw := watch.NewFakeWithChanSize(benchObjects, false)
		lw := &cache.ListWatch{
			ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
				return &corev1.ServiceList{ListMeta: metav1.ListMeta{ResourceVersion: "0"}}, nil
			},
			WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
				return fw, nil
			},
		}
		r, err := reflector.New(db, reflector.Config[*corev1.Service]{Name: "services", Table: tbl, ListerWatcher: lw}, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		_, init := tbl.Initialized(db.ReadTxn())
		<-init
		b.StartTimer()
		for _, o := range objs {
			fw.Add(o)
		}
		for tbl.NumObjects(db.ReadTxn()) < benchObjects {
			_, w := tbl.AllWatch(db.ReadTxn())
			select {
			case <-w:
			case <-time.After(time.Second):
			}
		}
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
	b.ReportMetric(float64(benchObjects*b.N)/b.Elapsed().Seconds(), "objects/s")
}
