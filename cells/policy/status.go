package policy

import (
	"context"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/statedb"
)

// statusWriter puts the Valid condition on Cilium policy objects (and a
// Warning event on rejected NetworkPolicies), so
// `kubectl get cnp` shows a rejected policy and `kubectl describe` why.
// Every agent computes the same verdict; a write that lost a race is not
// retried, the next change of the object brings it back here.
type statusWriter struct {
	db       *statedb.DB
	statuses statedb.Table[*Status]
	cnps     statedb.Table[*v2.CiliumNetworkPolicy]
	ccnps    statedb.Table[*v2.CiliumClusterwideNetworkPolicy]
	nps      statedb.Table[*networkingv1.NetworkPolicy]
	cs       *client.Clientset
	node     string
	log      *slog.Logger
	// evented remembers the rejections already reported as events, by
	// policy name and message.
	evented map[string]string
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
			case "NetworkPolicy":
				// NetworkPolicy has no conditions: a Warning event on it.
				if s.Valid || w.evented[s.Name] == s.Error {
					continue
				}
				o, _, ok := w.nps.Get(txn, k8s.NameIndex[*networkingv1.NetworkPolicy]().Query(k8s.ParseKey(name)))
				if !ok {
					continue
				}
				err = w.event(ctx, o, s.Error)
				if err == nil {
					w.evented[s.Name] = s.Error
				}
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

func (w *statusWriter) event(ctx context.Context, np *networkingv1.NetworkPolicy, msg string) error {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: np.Name + ".", Namespace: np.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "NetworkPolicy", APIVersion: "networking.k8s.io/v1",
			Namespace: np.Namespace, Name: np.Name, UID: np.UID, ResourceVersion: np.ResourceVersion},
		Reason: "PolicyInvalid", Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "hivenet-agent", Host: w.node},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "hivenet.io/agent", ReportingInstance: w.node,
	}
	_, err := w.cs.CoreV1().Events(np.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	return err
}
