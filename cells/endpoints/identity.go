package endpoints

import (
	"context"
	"fmt"
	"maps"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
)

// followIdentities keeps each endpoint's Identity and Labels equal to its
// pod's row in the pod-identities table (written by the identity cell), so
// the endpoints map (cilium_lxc) carries the security identity the
// datapath enforces policy with. Endpoints of pods without a row keep
// what they have.
func (m *manager) followIdentities(podIDs statedb.Table[*identity.PodIdentity]) func(context.Context, cell.Health) error {
	return func(ctx context.Context, h cell.Health) error {
		for {
			txn := m.db.ReadTxn()
			eps, epWatch := m.table.AllWatch(txn)
			_, idWatch := podIDs.AllWatch(txn)
			var updates []*Endpoint
			for ep := range eps {
				if ep.Pod == "" {
					continue
				}
				pi, _, ok := podIDs.Get(txn, identity.PodIdentityByPod.Query(ep.Namespace+"/"+ep.Pod))
				if !ok {
					continue
				}
				l := map[string]string(pi.Labels.Selectable())
				if ep.Identity == pi.ID && maps.Equal(ep.Labels, l) {
					continue
				}
				c := *ep
				c.Identity, c.Labels, c.Status = pi.ID, l, reconcilers.StatusPending()
				updates = append(updates, &c)
			}
			if len(updates) > 0 {
				wtxn := m.db.WriteTxn(m.table)
				for _, ep := range updates {
					// Only if the endpoint is still there, unchanged in
					// the meantime apart from its status.
					cur, _, ok := m.table.Get(wtxn, ByID.Query(ep.ID))
					if !ok || cur.ContainerID != ep.ContainerID {
						continue
					}
					if _, _, err := m.table.Insert(wtxn, ep); err != nil {
						wtxn.Abort()
						return err
					}
				}
				wtxn.Commit()
				h.OK(fmt.Sprintf("%d endpoint identities updated", len(updates)))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-epWatch:
			case <-idWatch:
			}
		}
	}
}
