package k8s

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Object is what the tables hold: a pointer to a Kubernetes API type.
type Object interface {
	runtime.Object
	metav1.Object
}

// Key names an object: namespace and name, or just name for cluster-scoped
// kinds.
type Key struct {
	Namespace string
	Name      string
}

// String is "namespace/name", or "name" without a namespace.
func (k Key) String() string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

// ParseKey is the inverse of Key.String.
func ParseKey(s string) Key {
	if ns, name, ok := strings.Cut(s, "/"); ok {
		return Key{Namespace: ns, Name: name}
	}
	return Key{Name: s}
}

// KeyOf returns the key of an object.
func KeyOf(o metav1.Object) Key {
	return Key{Namespace: o.GetNamespace(), Name: o.GetName()}
}

// NameIndex is the primary index of every k8s table: the object's Key.
func NameIndex[T Object]() statedb.Index[T, Key] {
	return statedb.Index[T, Key]{
		Name: "name",
		FromObject: func(o T) index.KeySet {
			return index.NewKeySet(index.String(KeyOf(o).String()))
		},
		FromKey:    func(k Key) index.Key { return index.String(k.String()) },
		FromString: index.FromString,
		Unique:     true,
	}
}

// NamespaceIndex indexes namespaced objects by namespace.
func NamespaceIndex[T Object]() statedb.Index[T, string] {
	return statedb.Index[T, string]{
		Name: "namespace",
		FromObject: func(o T) index.KeySet {
			return index.NewKeySet(index.String(o.GetNamespace()))
		},
		FromKey:    index.String,
		FromString: index.FromString,
	}
}
