// Command hivenet-agent is hivenet's node agent: it runs on every node (as a
// DaemonSet) and programs the node's kernel for pod networking, services,
// policy, encryption and observability.
package main

import (
	"fmt"
	"os"

	"github.com/hivenet/hivenet/daemon/cmd"
)

func main() {
	if err := cmd.Command().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hivenet-agent:", err)
		os.Exit(1)
	}
}
