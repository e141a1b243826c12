package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/cells/statedir"
	"github.com/hivenet/hivenet/statedb"
)

// ErrPodCIDRChanged is reported (as the module's degraded health) when this
// node's Node object names another pod CIDR than the one IPAM allocates from.
// Running pods keep their addresses; restart the agent after draining the
// node to move to the new CIDR.
var ErrPodCIDRChanged = errors.New("node pod CIDR changed")

// PodCIDROf returns the IPv4 pod CIDR of a Node: the first IPv4 prefix of
// spec.podCIDRs, else spec.podCIDR. ok is false when it has none yet (the
// controller-manager allocates it shortly after the node registers).
func PodCIDROf(n *corev1.Node) (cidr netip.Prefix, ok bool, err error) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false, fmt.Errorf("node %s: pod CIDR %q: %w", n.Name, s, err)
		}
		if p.Addr().Is4() {
			return p.Masked(), true, nil
		}
	}
	return netip.Prefix{}, false, nil
}

// k8sPodCIDR is the kubernetes mode: the pool is this node's spec.podCIDR.
//
// The CIDR is also written to the state directory, so an agent restarted
// while the API server is unreachable starts with the CIDR its running pods
// were given instead of waiting for the API.
type k8sPodCIDR struct {
	ipam  *ipam
	nodes statedb.Table[*corev1.Node]
	node  string
	file  string
	jobs  cell.Jobs
}

// start restores the pool from the state directory, or else waits (within
// the hive's start timeout) for the Node to carry a pod CIDR. Until it
// returns, the endpoints cell answers CNI ADD with "try again later".
// Once the pool is known it starts watching the Node for a changed CIDR.
func (k *k8sPodCIDR) start(ctx context.Context) error {
	cidr, ok, err := k.saved()
	if err != nil {
		return err
	}
	if !ok {
		if cidr, err = k.wait(ctx); err != nil {
			return err
		}
		if err := statedir.WriteFileAtomic(k.file, []byte(cidr.String()+"\n")); err != nil {
			return fmt.Errorf("persist pod CIDR: %w", err)
		}
	}
	if err := k.ipam.restore(ctx, cidr); err != nil {
		return err
	}
	k.jobs.Add(cell.OneShot("watch-pod-cidr", k.watch))
	return nil
}

func (k *k8sPodCIDR) saved() (netip.Prefix, bool, error) {
	b, err := os.ReadFile(k.file)
	if errors.Is(err, os.ErrNotExist) {
		return netip.Prefix{}, false, nil
	}
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("read %s: %w", k.file, err)
	}
	s := strings.TrimSpace(string(b))
	if err := validateRange(k.file, s); err != nil {
		return netip.Prefix{}, false, fmt.Errorf("%w (remove it to take the CIDR from the Node again)", err)
	}
	return netip.MustParsePrefix(s), true, nil
}

func (k *k8sPodCIDR) query() statedb.Query[*corev1.Node] {
	return k8s.NameIndex[*corev1.Node]().Query(k8s.Key{Name: k.node})
}

// wait returns the Node's pod CIDR once the Node has one.
func (k *k8sPodCIDR) wait(ctx context.Context) (netip.Prefix, error) {
	logEvery := time.NewTicker(10 * time.Second)
	defer logEvery.Stop()
	k.ipam.log.Info("Waiting for this node's pod CIDR (spec.podCIDR of its Node)", "node", k.node)
	for {
		n, _, watch, found := k.nodes.GetWatch(k.ipam.db.ReadTxn(), k.query())
		var why string
		if found {
			cidr, ok, err := PodCIDROf(n)
			switch {
			case err != nil:
				why = err.Error()
			case ok:
				if err := validateRange("spec.podCIDR of node "+k.node, cidr.String()); err != nil {
					return netip.Prefix{}, err
				}
				return cidr, nil
			default:
				why = "Node has no spec.podCIDR yet (is kube-controller-manager running with --allocate-node-cidrs?)"
			}
		} else {
			why = "Node object not found"
		}
		select {
		case <-ctx.Done():
			return netip.Prefix{}, fmt.Errorf("no pod CIDR for node %q: %s: %w", k.node, why, ctx.Err())
		case <-logEvery.C:
			k.ipam.log.Info("Still waiting for this node's pod CIDR", "node", k.node, "reason", why)
		case <-watch:
		}
	}
}

// watch reports degraded health while the Node names another pod CIDR than
// the pool in use.
func (k *k8sPodCIDR) watch(ctx context.Context, h cell.Health) error {
	for {
		n, _, watch, found := k.nodes.GetWatch(k.ipam.db.ReadTxn(), k.query())
		inUse := k.ipam.Range()
		if found {
			cidr, ok, err := PodCIDROf(n)
			switch {
			case err != nil:
				h.Degraded("bad pod CIDR on Node", err)
			case ok && cidr != inUse:
				h.Degraded("pod CIDR in use differs from the Node's",
					fmt.Errorf("%w: node %s has spec.podCIDR %s, pods get addresses from %s; restart the agent once the node is drained", ErrPodCIDRChanged, k.node, cidr, inUse))
			default:
				h.OK("allocating from " + inUse.String())
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		}
	}
}
