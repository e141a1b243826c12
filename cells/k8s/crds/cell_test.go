package crds_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/cells/k8s/crds"
	"github.com/hivenet/hivenet/test/box"
)

// TestCellRegistersAtStart: the operator's CRD cell registers every CRD
// during hive start, and registers nothing with skip-crd-creation.
func TestCellRegistersAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, err := box.Start(ctx, box.Config{NoControllerManager: true})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(cp.Stop)
	cs, err := client.NewClientset(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	countCRDs := func() int {
		l, err := cs.Apiextensions.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}

	run := func(extra ...string) {
		h := cell.New(k8s.ClientCell, crds.Cell)
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		h.RegisterFlags(fs)
		if err := fs.Parse(append([]string{"--k8s-kubeconfig-path=" + cp.Kubeconfig}, extra...)); err != nil {
			t.Fatal(err)
		}
		h.SetLogger(slog.New(slog.DiscardHandler))
		if err := h.Start(ctx); err != nil {
			t.Fatalf("start: %v", err)
		}
		if err := h.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}

	run("--skip-crd-creation")
	if n := countCRDs(); n != 0 {
		t.Fatalf("skip-crd-creation still created %d CRDs", n)
	}
	run()
	all, _ := crds.All()
	if n := countCRDs(); n != len(all) {
		t.Fatalf("%d CRDs after start, want %d", n, len(all))
	}
}
