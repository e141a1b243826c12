// Package crds holds the CustomResourceDefinitions of the cilium.io kinds
// hivenet serves (generated from cells/k8s/apis by controller-gen and
// embedded here) and registers them with an API server.
//
// The operator calls Register at start (unless skip-crd-creation is set);
// tests call it against the cluster-in-a-box.
//
// Errors: Register wraps ErrNotEstablished when a CRD does not become
// Established before the context ends, and ErrNamesConflict when the API
// server refuses a CRD's names.
package crds

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed manifests/*.yaml
var manifests embed.FS

var (
	// ErrNotEstablished: a CRD was created but the API server did not report
	// it Established in time.
	ErrNotEstablished = errors.New("CRD not established")
	// ErrNamesConflict: the API server did not accept a CRD's names
	// (NamesAccepted=False), usually because another CRD claims them.
	ErrNamesConflict = errors.New("CRD names not accepted")
)

// All returns the embedded CRDs, sorted by name. Each call returns fresh
// copies that the caller may modify.
func All() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := fs.ReadDir(manifests, "manifests")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, e := range entries {
		data, err := manifests.ReadFile(path.Join("manifests", e.Name()))
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", e.Name(), err)
		}
		out = append(out, crd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Manifest returns the raw YAML of the embedded CRD with the given name
// (e.g. "ciliumnetworkpolicies.cilium.io"), as `kubectl apply -f` takes it.
func Manifest(name string) ([]byte, error) {
	return manifests.ReadFile(path.Join("manifests", "cilium.io_"+trimGroup(name)+".yaml"))
}

func trimGroup(name string) string {
	const suffix = ".cilium.io"
	if len(name) > len(suffix) && name[len(name)-len(suffix):] == suffix {
		return name[:len(name)-len(suffix)]
	}
	return name
}
