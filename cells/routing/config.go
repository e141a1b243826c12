package routing

import "fmt"

// Routing modes, Cilium's values of routing-mode.
const (
	ModeTunnel = "tunnel"
	ModeNative = "native"
)

// TunnelVXLAN is the only tunnel protocol implemented.
const TunnelVXLAN = "vxlan"

// DefaultVXLANPort is the UDP port of Cilium's VXLAN tunnels (the Linux
// kernel's historical default, not IANA's 4789).
const DefaultVXLANPort = 8472

// Config is the routing cell's configuration, with Cilium's flag names.
type Config struct {
	RoutingMode    string `flag:"routing-mode" help:"How pods reach pods on other nodes: tunnel (VXLAN between nodes) or native (routes to each node's pod CIDR via its IP)"`
	TunnelProtocol string `flag:"tunnel-protocol" help:"Encapsulation with --routing-mode=tunnel: vxlan"`
	TunnelPort     uint16 `flag:"tunnel-port" help:"UDP port of the tunnel (0: the protocol's default, 8472 for vxlan)"`
}

// DefaultConfig is the agent's default: VXLAN tunnels on port 8472.
var DefaultConfig = Config{RoutingMode: ModeTunnel, TunnelProtocol: TunnelVXLAN}

// Validate implements cell.Validator.
func (c Config) Validate() error {
	switch c.RoutingMode {
	case ModeTunnel, ModeNative:
	default:
		return fmt.Errorf("--routing-mode=%q: use %s or %s", c.RoutingMode, ModeTunnel, ModeNative)
	}
	if c.TunnelProtocol != TunnelVXLAN {
		return fmt.Errorf("--tunnel-protocol=%q: only %s is implemented", c.TunnelProtocol, TunnelVXLAN)
	}
	return nil
}

// Port is the tunnel's UDP port.
func (c Config) Port() int {
	if c.TunnelPort == 0 {
		return DefaultVXLANPort
	}
	return int(c.TunnelPort)
}
