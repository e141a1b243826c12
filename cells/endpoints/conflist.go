package endpoints

import (
	"encoding/json"
	"fmt"

	"github.com/hivenet/hivenet/cells/statedir"
)

// Conflist is the CNI network configuration list the agent writes for the
// container runtime once it can serve ADD (Cilium's
// --write-cni-conf-when-ready), so the runtime never calls the plugin of an
// agent that is not ready.
func Conflist(socketPath string) ([]byte, error) {
	plugin := map[string]any{"type": "hivenet-cni"}
	if socketPath != "" {
		plugin["socket-path"] = socketPath
	}
	return json.MarshalIndent(map[string]any{
		"cniVersion": "1.1.0",
		"name":       "hivenet",
		"plugins":    []any{plugin},
	}, "", "  ")
}

func writeConflist(path, socketPath string) error {
	b, err := Conflist(socketPath)
	if err != nil {
		return err
	}
	if err := statedir.WriteFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("--write-cni-conf-when-ready %s: %w", path, err)
	}
	return nil
}
