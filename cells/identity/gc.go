package identity

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hivenet/hivenet/cells/cell"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/statedb"
)

// GCConfig is the operator's identity garbage collection, with Cilium's flag
// names.
type GCConfig struct {
	IdentityGCInterval time.Duration `flag:"identity-gc-interval" help:"How often unused CiliumIdentity objects are looked for"`
	// IdentityHeartbeatTimeout is the grace period: an identity is deleted
	// only once it has been unused this long, so an agent that just
	// allocated one has time to publish the endpoint that uses it.
	IdentityHeartbeatTimeout time.Duration `flag:"identity-heartbeat-timeout" help:"How long an identity must stay unused before it is deleted"`
}

// Validate implements cell.Validator.
func (c GCConfig) Validate() error {
	if c.IdentityGCInterval <= 0 || c.IdentityHeartbeatTimeout < 0 {
		return fmt.Errorf("identity-gc-interval must be positive and identity-heartbeat-timeout not negative (got %s, %s)",
			c.IdentityGCInterval, c.IdentityHeartbeatTimeout)
	}
	return nil
}

// GCCell is the operator's garbage collector of CiliumIdentity objects that
// no CiliumEndpoint and no pod uses. It needs k8s.OperatorCell.
var GCCell = cell.Module("identity-gc", "Garbage collection of unused CiliumIdentity objects",
	cell.Config(GCConfig{IdentityGCInterval: 15 * time.Minute, IdentityHeartbeatTimeout: 30 * time.Minute}),
	cell.Invoke(registerGC),
)

type gcParams struct {
	cell.In

	Config     GCConfig
	DB         *statedb.DB
	CRDs       statedb.Table[*v2.CiliumIdentity]
	CEPs       statedb.Table[*v2.CiliumEndpoint]
	Pods       statedb.Table[*corev1.Pod]
	Namespaces statedb.Table[*corev1.Namespace]
	Clientset  *client.Clientset
	Jobs       cell.Jobs
	Log        *slog.Logger
}

func registerGC(p gcParams) {
	gc := &GC{Grace: p.Config.IdentityHeartbeatTimeout, unused: map[ID]time.Time{}}
	p.Jobs.Add(cell.Timer("identity-gc", func(ctx context.Context) error {
		txn := p.DB.ReadTxn()
		for _, t := range []statedb.TableMeta{p.CRDs, p.CEPs, p.Pods, p.Namespaces} {
			if ok, _ := t.Initialized(txn); !ok {
				return nil // never collect on a partial view
			}
		}
		inUse := InUse(txn, p.CEPs, p.Pods, p.Namespaces, p.CRDs)
		var crds []*v2.CiliumIdentity
		for o := range p.CRDs.All(txn) {
			crds = append(crds, o)
		}
		for _, o := range gc.Collect(time.Now(), crds, inUse) {
			err := p.Clientset.Cilium.V2.CiliumIdentities.Delete(ctx, "", o.Name, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: ptr(o.UID)},
			})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return fmt.Errorf("delete unused CiliumIdentity %s: %w", o.Name, err)
			}
			p.Log.Info("Deleted unused identity", "identity", o.Name, "labels", Labels(o.SecurityLabels).String())
		}
		return nil
	}, p.Config.IdentityGCInterval))
}

func ptr(u types.UID) *types.UID { return &u }

// InUse returns the identities referenced by a CiliumEndpoint or carried
// by the label set of an existing pod.
func InUse(txn statedb.ReadTxn, ceps statedb.Table[*v2.CiliumEndpoint], pods statedb.Table[*corev1.Pod],
	namespaces statedb.Table[*corev1.Namespace], crds statedb.Table[*v2.CiliumIdentity]) map[ID]bool {
	inUse := map[ID]bool{}
	for cep := range ceps.All(txn) {
		if cep.Status.Identity != nil && cep.Status.Identity.ID > 0 {
			inUse[ID(cep.Status.Identity.ID)] = true
		}
	}
	byLabels := map[string][]ID{}
	for o := range crds.All(txn) {
		if id, ok := FromCRD(o); ok {
			byLabels[id.Labels.Key()] = append(byLabels[id.Labels.Key()], id.ID)
		}
	}
	nsLabels := map[string]map[string]string{}
	for ns := range namespaces.All(txn) {
		nsLabels[ns.Name] = ns.Labels
	}
	for pod := range pods.All(txn) {
		if pod.Spec.HostNetwork {
			continue
		}
		l := PodLabels(pod.Labels, pod.Namespace, nsLabels[pod.Namespace], pod.Spec.ServiceAccountName)
		for _, id := range byLabels[l.Key()] {
			inUse[id] = true
		}
	}
	return inUse
}

// GC decides which identities to delete: those unused for longer than
// Grace, measured from when it first saw them unused.
type GC struct {
	Grace  time.Duration
	unused map[ID]time.Time
}

// NewGC returns a collector with the given grace period.
func NewGC(grace time.Duration) *GC { return &GC{Grace: grace, unused: map[ID]time.Time{}} }

// Collect returns the objects to delete at time now.
func (g *GC) Collect(now time.Time, crds []*v2.CiliumIdentity, inUse map[ID]bool) []*v2.CiliumIdentity {
	var out []*v2.CiliumIdentity
	seen := map[ID]bool{}
	for _, o := range crds {
		id, ok := FromCRD(o)
		if !ok {
			continue
		}
		seen[id.ID] = true
		if inUse[id.ID] {
			delete(g.unused, id.ID)
			continue
		}
		since, ok := g.unused[id.ID]
		if !ok {
			g.unused[id.ID] = now
			since = now
		}
		if now.Sub(since) >= g.Grace {
			out = append(out, o)
			delete(g.unused, id.ID)
		}
	}
	for id := range g.unused {
		if !seen[id] {
			delete(g.unused, id)
		}
	}
	return out
}
