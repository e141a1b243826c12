package identity

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

func TestPodLabels(t *testing.T) {
	l := PodLabels(map[string]string{"app": "web", "pod-template-hash": "abc"}, "x",
		map[string]string{"kubernetes.io/metadata.name": "x", "team": "a"}, "default")
	want := Labels{
		"k8s:app":                         "web",
		"k8s:io.kubernetes.pod.namespace": "x",
		"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name": "x",
		"k8s:io.cilium.k8s.namespace.labels.team":                        "a",
		"k8s:io.cilium.k8s.policy.serviceaccount":                        "default",
		"k8s:io.cilium.k8s.policy.cluster":                               "default",
	}
	if l.Key() != want.Key() {
		t.Fatalf("labels\n got %s\nwant %s", l, want)
	}
	sel := l.Selectable()
	if sel["app"] != "web" || sel["io.kubernetes.pod.namespace"] != "x" {
		t.Fatalf("selectable labels %v", sel)
	}
	// Two replicas of a rollout differ only in the hash: same identity.
	l2 := PodLabels(map[string]string{"app": "web", "pod-template-hash": "def"}, "x",
		map[string]string{"kubernetes.io/metadata.name": "x", "team": "a"}, "default")
	if l.Key() != l2.Key() {
		t.Fatal("pod-template-hash must not change the identity")
	}
}

func TestReserved(t *testing.T) {
	want := map[ID]string{1: "host", 2: "world", 3: "unmanaged", 4: "health", 5: "init", 6: "remote-node", 7: "kube-apiserver", 8: "ingress"}
	for _, id := range Reserved() {
		if want[id.ID] == "" || id.Labels.Key() != "reserved:"+want[id.ID]+"=" {
			t.Errorf("reserved %d: labels %s", id.ID, id.Labels)
		}
		delete(want, id.ID)
	}
	if len(want) != 0 {
		t.Errorf("missing reserved identities %v", want)
	}
}

// fakeBackend is an API server: one create per name succeeds.
type fakeBackend struct {
	mu   sync.Mutex
	objs map[ID]Labels
}

func (b *fakeBackend) Create(_ context.Context, id ID, l Labels) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objs[id]; ok {
		return fmt.Errorf("ciliumidentities %d: %w", id, ErrConflict)
	}
	b.objs[id] = l
	return nil
}

// View lets the allocator see the backend as a reflector would, at once.
func (b *fakeBackend) Find(l Labels) (ID, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	best := ID(0)
	for id, ol := range b.objs {
		if ol.Key() == l.Key() && (best == 0 || id < best) {
			best = id
		}
	}
	return best, best != 0
}

func (b *fakeBackend) Taken(id ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.objs[id]
	return ok
}

// staleView never sees anything: an agent whose reflector lags.
type staleView struct{}

func (staleView) Find(Labels) (ID, bool) { return 0, false }
func (staleView) Taken(ID) bool          { return false }

func TestAllocatorRace(t *testing.T) {
	be := &fakeBackend{objs: map[ID]Labels{}}
	// Agents with a stale view race for the same numbers: each number is
	// given once, every label set gets a distinct one.
	agents := []*Allocator{NewAllocator(be), NewAllocator(be), NewAllocator(be)}
	var wg sync.WaitGroup
	got := make([][]ID, len(agents))
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				id, err := a.Allocate(context.Background(), staleView{}, Labels{"k8s:app": fmt.Sprintf("a%d-%d", i, j)})
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = append(got[i], id)
			}
		}()
	}
	wg.Wait()
	seen := map[ID]bool{}
	for _, ids := range got {
		for _, id := range ids {
			if id < MinCluster || seen[id] {
				t.Fatalf("identity %d handed out twice or below %d", id, MinCluster)
			}
			seen[id] = true
		}
	}
	// Same labels again: the allocator remembers, the view finds.
	a := agents[0]
	id1, _ := a.Allocate(context.Background(), staleView{}, Labels{"k8s:app": "a0-0"})
	if id1 != got[0][0] {
		t.Fatalf("re-allocation gave %d, want %d", id1, got[0][0])
	}
	id2, _ := agents[1].Allocate(context.Background(), be, Labels{"k8s:app": "a0-0"})
	if id2 != got[0][0] {
		t.Fatalf("another agent with a current view got %d, want %d", id2, got[0][0])
	}
}

type refusingBackend struct{}

func (refusingBackend) Create(context.Context, ID, Labels) error { return errors.New("forbidden") }

func TestAllocatorError(t *testing.T) {
	_, err := NewAllocator(refusingBackend{}).Allocate(context.Background(), staleView{}, Labels{"k8s:a": "b"})
	if err == nil {
		t.Fatal("want the backend's error")
	}
}

func TestCIDRAllocator(t *testing.T) {
	a := NewCIDRAllocator()
	p1, p2 := netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16")
	ids := a.Sync([]netip.Prefix{p1, p2, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("10.0.0.1/8")})
	if len(ids) != 2 {
		t.Fatalf("want 2 CIDR identities (0/0 is world, duplicates merged), got %d", len(ids))
	}
	for _, id := range ids {
		if !IsLocal(id.ID) || id.Kind != KindCIDR {
			t.Fatalf("identity %+v is not a local CIDR identity", id)
		}
	}
	first := map[netip.Prefix]ID{ids[0].Prefix: ids[0].ID, ids[1].Prefix: ids[1].ID}
	again := a.Sync([]netip.Prefix{p2, p1})
	for _, id := range again {
		if first[id.Prefix] != id.ID {
			t.Fatalf("identity of %s changed from %d to %d", id.Prefix, first[id.Prefix], id.ID)
		}
	}
}

func TestGC(t *testing.T) {
	crd := func(n string) *v2.CiliumIdentity {
		return &v2.CiliumIdentity{ObjectMeta: metav1.ObjectMeta{Name: n}}
	}
	crds := []*v2.CiliumIdentity{crd("256"), crd("257"), crd("not-a-number")}
	gc := NewGC(time.Minute)
	t0 := time.Unix(1000, 0)
	if del := gc.Collect(t0, crds, map[ID]bool{256: true}); len(del) != 0 {
		t.Fatalf("deleted %d before the grace period", len(del))
	}
	// 257 comes back in use in between: its clock restarts.
	gc.Collect(t0.Add(30*time.Second), crds, map[ID]bool{256: true, 257: true})
	if del := gc.Collect(t0.Add(61*time.Second), crds, map[ID]bool{256: true}); len(del) != 0 {
		t.Fatalf("deleted %v although it was in use 31s ago", del[0].Name)
	}
	del := gc.Collect(t0.Add(121*time.Second), crds, map[ID]bool{256: true})
	if len(del) != 1 || del[0].Name != "257" {
		t.Fatalf("want 257 deleted, got %v", del)
	}
}
