package ipcache

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/statedb"
)

type cepParams struct {
	cell.In

	DB        *statedb.DB
	Endpoints statedb.Table[*endpoints.Endpoint]
	PodIDs    statedb.Table[*identity.PodIdentity]
	Pods      statedb.Table[*corev1.Pod]
	CEPs      statedb.Table[*v2.CiliumEndpoint]
	Nodes     statedb.Table[*nodes.Node]
	Clientset *client.Clientset
	Jobs      cell.Jobs
	Log       *slog.Logger
}

// newCEPWriter publishes a CiliumEndpoint per local endpoint that has an
// identity (owned by its pod, so the API server deletes it with the pod),
// and deletes the CiliumEndpoints of this node that no endpoint backs.
func newCEPWriter(p cepParams) {
	p.Jobs.Add(cell.OneShot("write-ciliumendpoints", func(ctx context.Context, h cell.Health) error {
		for {
			txn := p.DB.ReadTxn()
			var watches []<-chan struct{}
			var nodeIP string
			ns, w := p.Nodes.AllWatch(txn)
			watches = append(watches, w)
			for n := range ns {
				if n.Local && n.InternalIP.IsValid() {
					nodeIP = n.InternalIP.String()
				}
			}
			eps, w := p.Endpoints.AllWatch(txn)
			watches = append(watches, w)
			_, w = p.PodIDs.AllWatch(txn)
			watches = append(watches, w)
			_, w = p.Pods.AllWatch(txn)
			watches = append(watches, w)
			ceps, w := p.CEPs.AllWatch(txn)
			watches = append(watches, w)
			var failed error
			if nodeIP != "" {
				want := map[string]*v2.CiliumEndpoint{}
				for ep := range eps {
					if c := desiredCEP(txn, p, ep, nodeIP); c != nil {
						want[c.Namespace+"/"+c.Name] = c
					}
				}
				have := map[string]*v2.CiliumEndpoint{}
				for c := range ceps {
					have[c.Namespace+"/"+c.Name] = c
				}
				for key, c := range want {
					if err := writeCEP(ctx, p.Clientset, have[key], c); err != nil {
						failed = err
						p.Log.Warn("Cannot publish CiliumEndpoint", "endpoint", key, "error", err)
					}
				}
				for key, c := range have {
					if _, ok := want[key]; ok || c.Status.Networking == nil || c.Status.Networking.NodeIP != nodeIP {
						continue
					}
					err := p.Clientset.Cilium.V2.CiliumEndpoints.Delete(ctx, c.Namespace, c.Name, metav1.DeleteOptions{
						Preconditions: &metav1.Preconditions{UID: &c.UID},
					})
					if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
						failed = err
					}
				}
			}
			if failed != nil {
				h.Degraded("publishing CiliumEndpoints failed", failed)
				retry := make(chan struct{})
				time.AfterFunc(time.Second, func() { close(retry) })
				watches = append(watches, retry)
			} else {
				h.OK("CiliumEndpoints published")
			}
			if err := waitAny(ctx, watches...); err != nil {
				return nil
			}
		}
	}))
}

func desiredCEP(txn statedb.ReadTxn, p cepParams, ep *endpoints.Endpoint, nodeIP string) *v2.CiliumEndpoint {
	if ep.Pod == "" || !ep.IPv4.IsValid() || ep.Identity == 0 {
		return nil
	}
	pi, _, ok := p.PodIDs.Get(txn, identity.PodIdentityByPod.Query(ep.Namespace+"/"+ep.Pod))
	if !ok {
		return nil
	}
	c := &v2.CiliumEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: ep.Pod, Namespace: ep.Namespace},
		Status: v2.EndpointStatus{
			ID:         int64(ep.ID),
			Identity:   &v2.EndpointIdentity{ID: int64(ep.Identity), Labels: labelList(pi.Labels)},
			Networking: &v2.EndpointNetworking{Addressing: []v2.AddressPair{{IPV4: ep.IPv4.String()}}, NodeIP: nodeIP},
			State:      "ready",
		},
	}
	for pod := range p.Pods.List(txn, k8s.NameIndex[*corev1.Pod]().Query(k8s.Key{Namespace: ep.Namespace, Name: ep.Pod})) {
		c.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
		c.Status.ServiceAccount = pod.Spec.ServiceAccountName
		for _, ct := range pod.Spec.Containers {
			for _, port := range ct.Ports {
				if port.Name != "" {
					proto := string(port.Protocol)
					if proto == "" {
						proto = "TCP"
					}
					c.Status.NamedPorts = append(c.Status.NamedPorts, v2.NamedPort{Name: port.Name, Port: uint16(port.ContainerPort), Protocol: proto})
				}
			}
		}
	}
	return c
}

func labelList(l identity.Labels) []string {
	out := make([]string, 0, len(l))
	for k, v := range l {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// writeCEP creates want, or updates have when its content differs.
func writeCEP(ctx context.Context, cs *client.Clientset, have, want *v2.CiliumEndpoint) error {
	r := cs.Cilium.V2.CiliumEndpoints
	if have == nil {
		_, err := r.Create(ctx, want.Namespace, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // the reflector will show it; compared next round
		}
		return err
	}
	if reflect.DeepEqual(have.Status, want.Status) && reflect.DeepEqual(have.OwnerReferences, want.OwnerReferences) {
		return nil
	}
	c := have.DeepCopy()
	c.Status, c.OwnerReferences = want.Status, want.OwnerReferences
	_, err := r.Update(ctx, c, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update CiliumEndpoint %s/%s: %w", c.Namespace, c.Name, err)
	}
	return nil
}
