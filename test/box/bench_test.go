package box_test

import (
	"context"
	"testing"
	"time"

	"github.com/hivenet/hivenet/test/box"
)

// BenchmarkControlPlaneStart measures a warm start of etcd + kube-apiserver
// until /readyz answers (binaries built, caches warm): the fixed cost every
// e2e test pays.
func BenchmarkControlPlaneStart(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		start := time.Now()
		cp, err := box.Start(ctx, box.Config{NoControllerManager: true})
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/start")
		cp.Stop()
		cancel()
	}
}
