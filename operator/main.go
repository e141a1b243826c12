// Command hivenet-operator does hivenet's cluster-wide work (one replica per
// cluster, as a Deployment): CRD registration, load-balancer IP allocation,
// identity garbage collection.
package main

import (
	"fmt"
	"os"

	"github.com/hivenet/hivenet/operator/cmd"
)

func main() {
	if err := cmd.Command().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hivenet-operator:", err)
		os.Exit(1)
	}
}
