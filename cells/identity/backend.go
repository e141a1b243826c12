package identity

import (
	"context"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
)

// CRDBackend stores cluster identities as CiliumIdentity objects named by
// their number.
type CRDBackend struct {
	Client *client.Clientset
}

// Create implements Backend: an AlreadyExists answer is ErrConflict.
func (b CRDBackend) Create(ctx context.Context, id ID, l Labels) error {
	obj := &v2.CiliumIdentity{
		ObjectMeta:     metav1.ObjectMeta{Name: strconv.FormatUint(uint64(id), 10)},
		SecurityLabels: map[string]string(l),
	}
	if ns, ok := l[SourceK8s+":"+PodNamespaceLabel]; ok {
		obj.Labels = map[string]string{PodNamespaceLabel: ns}
	}
	_, err := b.Client.Cilium.V2.CiliumIdentities.Create(ctx, "", obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("CiliumIdentity %d: %w", id, ErrConflict)
	}
	return err
}

// FromCRD returns the identity a CiliumIdentity object stands for, or
// false when its name is not a cluster identity number.
func FromCRD(o *v2.CiliumIdentity) (*Identity, bool) {
	n, err := strconv.ParseUint(o.Name, 10, 32)
	if err != nil || ID(n) < MinCluster || ID(n) > MaxCluster {
		return nil, false
	}
	return &Identity{ID: ID(n), Kind: KindCluster, Labels: Labels(o.SecurityLabels)}, true
}
