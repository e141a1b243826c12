package cluster

import (
	"context"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// schedule binds pending pods to nodes, round robin, honouring a
// kubernetes.io/hostname node selector (the only placement the box's tests
// and demo need). A real kube-scheduler would do the same through the same
// Binding API.
func (c *Cluster) schedule(ctx context.Context) {
	factory := informers.NewSharedInformerFactoryWithOptions(c.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", "").String()
		}))
	var next atomic.Uint32
	queue := make(chan *corev1.Pod, 1024)
	_, _ = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok && p.DeletionTimestamp == nil {
				queue <- p
			}
		},
	})
	factory.Start(ctx.Done())
	for {
		select {
		case <-ctx.Done():
			factory.Shutdown()
			return
		case p := <-queue:
			node := c.pickNode(p, &next)
			if node == "" {
				c.log.Warn("No node matches the pod's node selector", "pod", p.Namespace+"/"+p.Name)
				continue
			}
			b := &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
				Target:     corev1.ObjectReference{Kind: "Node", Name: node},
			}
			for attempt := range 5 {
				err := c.Client.CoreV1().Pods(p.Namespace).Bind(ctx, b, metav1.CreateOptions{})
				if err == nil || ctx.Err() != nil {
					break
				}
				c.log.Warn("Binding pod failed", "pod", p.Namespace+"/"+p.Name, "node", node, "attempt", attempt+1, "error", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
}

func (c *Cluster) pickNode(p *corev1.Pod, next *atomic.Uint32) string {
	if want := p.Spec.NodeSelector["kubernetes.io/hostname"]; want != "" {
		for _, n := range c.Nodes {
			if n.Name == want {
				return n.Name
			}
		}
		return ""
	}
	if len(c.Nodes) == 0 {
		return ""
	}
	return c.Nodes[int(next.Add(1)-1)%len(c.Nodes)].Name
}
