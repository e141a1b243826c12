package crds

import (
	"context"
	"log/slog"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s/client"
)

// Cell registers the cilium.io CRDs when the hive starts (the operator's
// job), unless skip-crd-creation is set. Start fails if they are not
// Established within the hive's start timeout. It needs a *client.Clientset
// (k8s.ClientCell).
var Cell = cell.Module("crds", "Registers the cilium.io CustomResourceDefinitions",
	cell.Config(Config{}),
	cell.Invoke(registerOnStart),
)

// Config is the CRD registration configuration.
type Config struct {
	SkipCRDCreation bool `flag:"skip-crd-creation" help:"Do not create or update the cilium.io CRDs at start (they are managed elsewhere)"`
}

func registerOnStart(cfg Config, lc cell.Lifecycle, cs *client.Clientset, log *slog.Logger) {
	if cfg.SkipCRDCreation {
		log.Info("skip-crd-creation set; not registering CRDs")
		return
	}
	lc.Append(cell.Hook{
		Name: "register-crds",
		OnStart: func(ctx context.Context) error {
			return Register(ctx, cs.Apiextensions, log)
		},
	})
}
