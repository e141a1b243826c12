// Command hivenet-cni is hivenet's CNI plugin. The container runtime (kubelet)
// runs it with CNI_COMMAND and the network configuration on stdin; it forwards
// each request to the node's hivenet agent over the agent's API socket, where
// the endpoints cell does the work, and prints the CNI result or error.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/hivenet/hivenet/cells/cell"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    cmdAdd,
		Del:    cmdDel,
		Check:  cmdCheck,
		Status: cmdStatus,
	}, version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"), "hivenet-cni "+cell.Version)
}
