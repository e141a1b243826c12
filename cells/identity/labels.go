package identity

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// Label sources, the prefix before ':' in a label key.
const (
	SourceK8s      = "k8s"
	SourceReserved = "reserved"
	SourceCIDR     = "cidr"
)

// Well-known label keys (without source).
const (
	// PodNamespaceLabel is the pod's namespace.
	PodNamespaceLabel = "io.kubernetes.pod.namespace"
	// NamespaceLabelsPrefix prefixes the pod's namespace's labels.
	NamespaceLabelsPrefix = "io.cilium.k8s.namespace.labels."
	// ServiceAccountLabel is the pod's service account.
	ServiceAccountLabel = "io.cilium.k8s.policy.serviceaccount"
	// ClusterLabel is the cluster's name.
	ClusterLabel = "io.cilium.k8s.policy.cluster"
)

// ClusterName is the cluster name hivenet puts in identities (Cilium's
// default).
const ClusterName = "default"

// Labels are source-prefixed labels ("k8s:app" -> "web"), the form
// CiliumIdentity's security-labels take. Treat as immutable.
type Labels map[string]string

// ignoredPodLabels are pod labels that change with every rollout and so
// would give every replica set its own identity; Cilium's default label
// filter drops them too.
var ignoredPodLabels = []string{
	"pod-template-hash",
	"controller-revision-hash",
	"pod-template-generation",
	"statefulset.kubernetes.io/pod-name",
	"batch.kubernetes.io/controller-uid",
	"controller-uid",
	"batch.kubernetes.io/job-name",
	"job-name",
}

// PodLabels returns the security labels of a pod: its labels (minus
// per-rollout ones), its namespace, its namespace's labels, its service
// account and the cluster name.
func PodLabels(podLabels map[string]string, namespace string, nsLabels map[string]string, serviceAccount string) Labels {
	out := make(Labels, len(podLabels)+len(nsLabels)+3)
	for k, v := range podLabels {
		if slices.Contains(ignoredPodLabels, k) {
			continue
		}
		out[SourceK8s+":"+k] = v
	}
	for k, v := range nsLabels {
		out[SourceK8s+":"+NamespaceLabelsPrefix+k] = v
	}
	out[SourceK8s+":"+PodNamespaceLabel] = namespace
	if serviceAccount != "" {
		out[SourceK8s+":"+ServiceAccountLabel] = serviceAccount
	}
	out[SourceK8s+":"+ClusterLabel] = ClusterName
	return out
}

// Key is the canonical text of the label set: sorted "key=value" joined by
// ';'. Equal sets have equal keys.
func (l Labels) Key() string {
	keys := slices.Sorted(maps.Keys(l))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
	}
	return b.String()
}

// String renders the labels sorted, comma-separated.
func (l Labels) String() string { return strings.ReplaceAll(l.Key(), ";", ",") }

// Selectable returns the k8s-source labels without their source, the set
// label selectors of policies are matched against.
func (l Labels) Selectable() labels.Set {
	out := make(labels.Set, len(l))
	for k, v := range l {
		src, key, ok := strings.Cut(k, ":")
		if ok && src == SourceK8s {
			out[key] = v
		}
	}
	return out
}
