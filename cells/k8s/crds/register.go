package crds

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// pollInterval is how often Register checks whether a CRD is Established.
// Establishing takes a few hundred milliseconds on a healthy API server.
const pollInterval = 100 * time.Millisecond

// Register creates every embedded CRD, or updates it when it exists with a
// different spec, then waits until each is Established. It returns when all
// are ready or ctx ends; give ctx a deadline. It is safe to call from several
// operators at once: a conflicting write is retried against the newer object.
func Register(ctx context.Context, client apiextensionsclientset.Interface, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	all, err := All()
	if err != nil {
		return err
	}
	for _, crd := range all {
		if err := apply(ctx, client, crd, log); err != nil {
			return err
		}
	}
	for _, crd := range all {
		if err := waitEstablished(ctx, client, crd.Name); err != nil {
			return err
		}
	}
	log.Info("CRDs registered and established", "count", len(all))
	return nil
}

func apply(ctx context.Context, client apiextensionsclientset.Interface, want *apiextensionsv1.CustomResourceDefinition, log *slog.Logger) error {
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	for {
		have, err := api.Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = api.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // another operator created it meanwhile; compare with theirs
			}
			if err != nil {
				return fmt.Errorf("create CRD %s: %w", want.Name, err)
			}
			log.Info("created CRD", "name", want.Name)
			return nil
		case err != nil:
			return fmt.Errorf("get CRD %s: %w", want.Name, err)
		}
		if specEqual(have, want) {
			log.Debug("CRD up to date", "name", want.Name)
			return nil
		}
		upd := have.DeepCopy()
		upd.Spec = want.Spec
		upd.Labels = merge(upd.Labels, want.Labels)
		upd.Annotations = merge(upd.Annotations, want.Annotations)
		_, err = api.Update(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("update CRD %s: %w", want.Name, err)
		}
		log.Info("updated CRD", "name", want.Name)
		return nil
	}
}

// specEqual compares the parts of the spec Register owns. The API server
// fills defaults (conversion strategy), so a plain DeepEqual would update on
// every start.
func specEqual(have, want *apiextensionsv1.CustomResourceDefinition) bool {
	h := have.Spec.DeepCopy()
	w := want.Spec.DeepCopy()
	h.Conversion, w.Conversion = nil, nil
	return equalJSON(h, w)
}

func merge(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

func waitEstablished(ctx context.Context, client apiextensionsclientset.Interface, name string) error {
	var last *apiextensionsv1.CustomResourceDefinition
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // transient; the deadline decides
		}
		last = crd
		for _, c := range crd.Status.Conditions {
			switch {
			case c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue:
				return true, nil
			case c.Type == apiextensionsv1.NamesAccepted && c.Status == apiextensionsv1.ConditionFalse:
				return false, fmt.Errorf("%w: %s: %s", ErrNamesConflict, name, c.Message)
			}
		}
		return false, nil
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		conds := "no status yet"
		if last != nil {
			conds = fmt.Sprintf("%v", last.Status.Conditions)
		}
		return fmt.Errorf("%w: %s (conditions: %s): %v", ErrNotEstablished, name, conds, ctx.Err())
	}
	return err
}
