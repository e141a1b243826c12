package client

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Resource is a typed client for one custom resource kind: T is the object
// type (e.g. *v2.CiliumNetworkPolicy) and L its list type. For
// cluster-scoped kinds the namespace arguments are ignored.
type Resource[T runtime.Object, L runtime.Object] struct {
	rc         rest.Interface
	plural     string
	namespaced bool
	newObj     func() T
	newList    func() L
}

func newResource[T runtime.Object, L runtime.Object](rc rest.Interface, plural string, namespaced bool, newObj func() T, newList func() L) *Resource[T, L] {
	return &Resource[T, L]{rc: rc, plural: plural, namespaced: namespaced, newObj: newObj, newList: newList}
}

// Plural is the resource's plural name.
func (r *Resource[T, L]) Plural() string { return r.plural }

// Namespaced reports whether the kind lives in namespaces.
func (r *Resource[T, L]) Namespaced() bool { return r.namespaced }

// Get fetches one object.
func (r *Resource[T, L]) Get(ctx context.Context, namespace, name string, opts metav1.GetOptions) (T, error) {
	out := r.newObj()
	err := r.rc.Get().NamespaceIfScoped(namespace, r.namespaced).Resource(r.plural).Name(name).
		VersionedParams(&opts, parameterCodec).Do(ctx).Into(out)
	return out, err
}

// List lists objects; namespace "" lists across all namespaces.
func (r *Resource[T, L]) List(ctx context.Context, namespace string, opts metav1.ListOptions) (L, error) {
	out := r.newList()
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	err := r.rc.Get().NamespaceIfScoped(namespace, r.namespaced).Resource(r.plural).
		VersionedParams(&opts, parameterCodec).Timeout(timeout).Do(ctx).Into(out)
	return out, err
}

// Watch watches objects; namespace "" watches all namespaces.
func (r *Resource[T, L]) Watch(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	return r.rc.Get().NamespaceIfScoped(namespace, r.namespaced).Resource(r.plural).
		VersionedParams(&opts, parameterCodec).Timeout(timeout).Watch(ctx)
}

// Create creates obj in namespace (ignored for cluster-scoped kinds).
func (r *Resource[T, L]) Create(ctx context.Context, namespace string, obj T, opts metav1.CreateOptions) (T, error) {
	out := r.newObj()
	err := r.rc.Post().NamespaceIfScoped(namespace, r.namespaced).Resource(r.plural).
		VersionedParams(&opts, parameterCodec).Body(obj).Do(ctx).Into(out)
	return out, err
}

// Update replaces obj; its metadata names it and carries the resourceVersion
// the write is conditional on.
func (r *Resource[T, L]) Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error) {
	return r.put(ctx, obj, "", opts)
}

// UpdateStatus replaces obj's status subresource.
func (r *Resource[T, L]) UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error) {
	return r.put(ctx, obj, "status", opts)
}

func (r *Resource[T, L]) put(ctx context.Context, obj T, sub string, opts metav1.UpdateOptions) (T, error) {
	out := r.newObj()
	m, err := metaOf(obj)
	if err != nil {
		return out, err
	}
	req := r.rc.Put().NamespaceIfScoped(m.GetNamespace(), r.namespaced).Resource(r.plural).Name(m.GetName())
	if sub != "" {
		req = req.SubResource(sub)
	}
	err = req.VersionedParams(&opts, parameterCodec).Body(obj).Do(ctx).Into(out)
	return out, err
}

// Patch applies a patch of type pt (JSON merge, strategic merge is not
// supported for custom resources, JSON patch, apply).
func (r *Resource[T, L]) Patch(ctx context.Context, namespace, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error) {
	out := r.newObj()
	err := r.rc.Patch(pt).NamespaceIfScoped(namespace, r.namespaced).Resource(r.plural).Name(name).
		SubResource(subresources...).VersionedParams(&opts, parameterCodec).Body(data).Do(ctx).Into(out)
	return out, err
}

// Delete deletes one object.
func (r *Resource[T, L]) Delete(ctx context.Context, namespace, name string, opts metav1.DeleteOptions) error {
	return r.rc.Delete().NamespaceIfScoped(namespace, r.namespaced).Resource(r.plural).Name(name).
		Body(&opts).Do(ctx).Error()
}
