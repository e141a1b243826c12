package policy

import (
	"context"
	"log/slog"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/statedb"
)

// statusWriter puts the Valid condition on Cilium policy objects, so
// `kubectl get cnp` shows a rejected policy and `kubectl describe` why.
// Every agent computes the same verdict; a write that lost a race is not
// retried, the next change of the object brings it back here.
type statusWriter struct {
	db       *statedb.DB
	statuses statedb.Table[*Status]
	cnps     statedb.Table[*v2.CiliumNetworkPolicy]
	ccnps    statedb.Table[*v2.CiliumClusterwideNetworkPolicy]
	cs       *client.Clientset
	log      *slog.Logger
}

func validCondition(s *Status) v2.NetworkPolicyCondition {
	c := v2.NetworkPolicyCondition{Type: v2.PolicyConditionValid, Status: metav1.ConditionTrue, Reason: "Valid", Message: "Policy validation succeeded"}
	if !s.Valid {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, "Invalid", s.Error
	}
	return c
}

// withCondition returns conds with c replacing any condition of its type,
// and whether that changed anything.
func withCondition(conds []v2.NetworkPolicyCondition, c v2.NetworkPolicyCondition) ([]v2.NetworkPolicyCondition, bool) {
	out := make([]v2.NetworkPolicyCondition, 0, len(conds)+1)
	for _, old := range conds {
		if old.Type == c.Type {
			if old.Status == c.Status && old.Message == c.Message {
				return conds, false
			}
			continue
		}
		out = append(out, old)
	}
	c.LastTransitionTime = metav1.Now()
	return append(out, c), true
}

func (w *statusWriter) run(ctx context.Context, h cell.Health) error {
	for {
		txn := w.db.ReadTxn()
		sts, watch := w.statuses.AllWatch(txn)
		for s := range sts {
			kind, name, _ := strings.Cut(s.Name, " ")
			cond := validCondition(s)
			var err error
			switch kind {
			case "CiliumNetworkPolicy":
				o, _, ok := w.cnps.Get(txn, k8s.NameIndex[*v2.CiliumNetworkPolicy]().Query(k8s.ParseKey(name)))
				if !ok {
					continue
				}
				if conds, changed := withCondition(o.Status.Conditions, cond); changed {
					c := o.DeepCopy()
					c.Status.Conditions = conds
					_, err = w.cs.Cilium.V2.CiliumNetworkPolicies.UpdateStatus(ctx, c, metav1.UpdateOptions{})
				}
			case "CiliumClusterwideNetworkPolicy":
				o, _, ok := w.ccnps.Get(txn, k8s.NameIndex[*v2.CiliumClusterwideNetworkPolicy]().Query(k8s.ParseKey(name)))
				if !ok {
					continue
				}
				if conds, changed := withCondition(o.Status.Conditions, cond); changed {
					c := o.DeepCopy()
					c.Status.Conditions = conds
					_, err = w.cs.Cilium.V2.CiliumClusterwideNetworkPolicies.UpdateStatus(ctx, c, metav1.UpdateOptions{})
				}
			}
			if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				w.log.Warn("Cannot write policy status", "policy", s.Name, "error", err)
			}
		}
		h.OK("policy conditions written")
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		}
	}
}
