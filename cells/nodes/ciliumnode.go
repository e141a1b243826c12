package nodes

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/statedb"
)

// ciliumNodeWriter keeps this node's CiliumNode equal to DesiredCiliumNode.
type ciliumNodeWriter struct {
	db          *statedb.DB
	k8sNodes    statedb.Table[*corev1.Node]
	ciliumNodes statedb.Table[*v2.CiliumNode]
	cilium      *client.Cilium
	ipam        ipam.IPAM
	name        string
	log         *slog.Logger
}

// DesiredCiliumNode is the CiliumNode an agent publishes for its node:
// cur (nil if there is none) with addresses and pod CIDRs taken from the
// Node and the pod CIDR the agent allocates from, and the Node as owner.
// Fields the agent does not own (annotations, encryption, status) are kept.
func DesiredCiliumNode(cur *v2.CiliumNode, n *corev1.Node, podCIDR netip.Prefix) *v2.CiliumNode {
	var out *v2.CiliumNode
	if cur != nil {
		out = cur.DeepCopy()
	} else {
		out = &v2.CiliumNode{ObjectMeta: metav1.ObjectMeta{Name: n.Name}}
	}
	if n.UID != "" && len(out.OwnerReferences) == 0 {
		out.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
	}
	var addrs []v2.NodeAddress
	if ip := nodeInternalIP(n); ip.IsValid() {
		addrs = append(addrs, v2.NodeAddress{Type: v2.NodeInternalIP, IP: ip.String()})
	}
	if podCIDR.IsValid() {
		addrs = append(addrs, v2.NodeAddress{Type: v2.NodeCiliumIntIP, IP: ipam.RouterOf(podCIDR).String()})
		out.Spec.IPAM.PodCIDRs = []string{podCIDR.String()}
	}
	out.Spec.Addresses = addrs
	return out
}

func ciliumNodeUpToDate(cur, want *v2.CiliumNode) bool {
	return slices.Equal(cur.Spec.Addresses, want.Spec.Addresses) &&
		slices.Equal(cur.Spec.IPAM.PodCIDRs, want.Spec.IPAM.PodCIDRs) &&
		len(cur.OwnerReferences) == len(want.OwnerReferences)
}

func (w *ciliumNodeWriter) run(ctx context.Context, h cell.Health) error {
	q := k8s.NameIndex[*corev1.Node]().Query(k8s.Key{Name: w.name})
	cq := k8s.NameIndex[*v2.CiliumNode]().Query(k8s.Key{Name: w.name})
	backoff := cell.Backoff{Min: 200 * time.Millisecond, Max: 30 * time.Second}
	failures := 0
	for {
		txn := w.db.ReadTxn()
		n, _, nodeWatch, found := w.k8sNodes.GetWatch(txn, q)
		cur, _, cnWatch, cnFound := w.ciliumNodes.GetWatch(txn, cq)
		cnInit, cnInitWatch := w.ciliumNodes.Initialized(txn)
		var retry <-chan time.Time
		switch {
		case !found:
			h.OK("waiting for Node " + w.name)
		case !cnInit:
			// Without the listing, a missing row does not mean a missing
			// object; wait rather than fail a create.
			nodeWatch = cnInitWatch
		default:
			if !cnFound {
				cur = nil
			}
			if err := w.write(ctx, cur, n); err != nil {
				failures++
				d := backoff.Duration(failures - 1)
				h.Degraded("cannot write CiliumNode "+w.name, err)
				w.log.Warn("Writing CiliumNode failed; retrying", "name", w.name, "in", d, "error", err)
				retry = time.After(d)
			} else {
				failures = 0
				h.OK("CiliumNode " + w.name + " up to date")
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-nodeWatch:
		case <-cnWatch:
		case <-retry:
		}
	}
}

// write creates or updates the CiliumNode if it differs from the desired
// one. cur is the reflected copy, which may lag the API server: a conflict
// or an "already exists" is answered by reading the live object once.
func (w *ciliumNodeWriter) write(ctx context.Context, cur *v2.CiliumNode, n *corev1.Node) error {
	podCIDR := w.ipam.Range()
	want := DesiredCiliumNode(cur, n, podCIDR)
	if cur != nil && ciliumNodeUpToDate(cur, want) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res := w.cilium.V2.CiliumNodes
	var err error
	if cur == nil {
		_, err = res.Create(ctx, "", want, metav1.CreateOptions{})
		if err == nil {
			w.log.Info("Created CiliumNode", "name", w.name, "podCIDR", podCIDR)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CiliumNode %s: %w", w.name, err)
		}
	} else {
		_, err = res.Update(ctx, want, metav1.UpdateOptions{})
		if err == nil {
			w.log.Info("Updated CiliumNode", "name", w.name, "podCIDR", podCIDR)
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("update CiliumNode %s: %w", w.name, err)
		}
	}
	live, err := res.Get(ctx, "", w.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get CiliumNode %s: %w", w.name, err)
	}
	want = DesiredCiliumNode(live, n, podCIDR)
	if ciliumNodeUpToDate(live, want) {
		return nil
	}
	if _, err := res.Update(ctx, want, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update CiliumNode %s: %w", w.name, err)
	}
	w.log.Info("Updated CiliumNode", "name", w.name, "podCIDR", podCIDR)
	return nil
}
