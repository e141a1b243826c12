package k8s

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/hivenet/hivenet/cells/k8s/client"
)

// ListerWatchers for each resource the tables reflect. They apply only the
// selectors named; everything else is cluster-wide.

// PodsListerWatcher lists pods; a non-empty nodeName limits it to the pods
// bound to that node (spec.nodeName), as the agent needs.
func PodsListerWatcher(cs kubernetes.Interface, nodeName string) cache.ListerWatcher {
	sel := fields.Everything()
	if nodeName != "" {
		sel = fields.OneTermEqualSelector("spec.nodeName", nodeName)
	}
	return cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "pods", metav1.NamespaceAll, sel)
}

// NamespacesListerWatcher lists namespaces.
func NamespacesListerWatcher(cs kubernetes.Interface) cache.ListerWatcher {
	return cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "namespaces", metav1.NamespaceAll, fields.Everything())
}

// ServicesListerWatcher lists services.
func ServicesListerWatcher(cs kubernetes.Interface) cache.ListerWatcher {
	return cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "services", metav1.NamespaceAll, fields.Everything())
}

// EndpointSlicesListerWatcher lists endpoint slices.
func EndpointSlicesListerWatcher(cs kubernetes.Interface) cache.ListerWatcher {
	return cache.NewListWatchFromClient(cs.DiscoveryV1().RESTClient(), "endpointslices", metav1.NamespaceAll, fields.Everything())
}

// NodesListerWatcher lists nodes.
func NodesListerWatcher(cs kubernetes.Interface) cache.ListerWatcher {
	return cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "nodes", metav1.NamespaceAll, fields.Everything())
}

// NetworkPoliciesListerWatcher lists networking.k8s.io/v1 NetworkPolicies.
func NetworkPoliciesListerWatcher(cs kubernetes.Interface) cache.ListerWatcher {
	return cache.NewListWatchFromClient(cs.NetworkingV1().RESTClient(), "networkpolicies", metav1.NamespaceAll, fields.Everything())
}

// CiliumListerWatcher lists a cilium.io resource across all namespaces.
func CiliumListerWatcher[T runtime.Object, L runtime.Object](r *client.Resource[T, L]) cache.ListerWatcher {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return r.List(ctx, metav1.NamespaceAll, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return r.Watch(ctx, metav1.NamespaceAll, opts)
		},
	}
}
