// Package masquerade is the masquerade cell: traffic from pods to
// destinations outside the pod (and native-routing) CIDR leaves the node with
// the node's address as source, so the outside world needs no route to pods.
//
// It is implemented with one nftables table (ip hivenet_masq) whose
// postrouting chain masquerades, not in BPF. The kernel's NAT then owns port
// allocation, conntrack of the translated flows, ICMP error translation and
// reply handling, which a BPF SNAT would have to re-implement (Cilium's BPF
// masquerading carries its own NAT map for exactly this); the cost is one
// netfilter hook for traffic that leaves the node, not for pod-to-pod traffic,
// which the datapath redirects before netfilter. The ruleset is replaced
// atomically (one nft transaction) at every start and left in place on stop,
// so connections survive an agent restart.
package masquerade

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/ipam"
)

// Config is the masquerade cell's configuration (Cilium's flag names).
type Config struct {
	EnableIPv4Masquerade bool   `flag:"enable-ipv4-masquerade" help:"Masquerade IPv4 traffic from pods to destinations outside the pod and native-routing CIDRs"`
	NativeRoutingCIDR    string `flag:"ipv4-native-routing-cidr" help:"IPv4 CIDR reachable without masquerading (e.g. the cluster's pod CIDR); empty: only this node's pod range"`
}

// Validate implements cell.Validator.
func (c Config) Validate() error {
	if c.NativeRoutingCIDR != "" {
		if _, err := netip.ParsePrefix(c.NativeRoutingCIDR); err != nil {
			return fmt.Errorf("--ipv4-native-routing-cidr %q: %w", c.NativeRoutingCIDR, err)
		}
	}
	return nil
}

// TableName is the nftables table hivenet owns.
const TableName = "hivenet_masq"

// Cell is the masquerade module.
var Cell = cell.Module("masquerade", "Masquerades pod traffic leaving the cluster's address space",
	cell.Config(Config{EnableIPv4Masquerade: true}),
	cell.Invoke(register),
)

func register(cfg Config, pods ipam.IPAM, lc cell.Lifecycle, log *slog.Logger, h cell.Health) {
	lc.Append(cell.Hook{Name: "nftables", OnStart: func(ctx context.Context) error {
		// IPAM has started (this cell depends on it), so the node's pod
		// range is known, whether from a flag or from the Node object.
		podRange := pods.Range()
		if !podRange.IsValid() {
			return fmt.Errorf("no pod range from IPAM to masquerade")
		}
		rules := Ruleset(cfg, podRange)
		if err := apply(ctx, rules); err != nil {
			return err
		}
		if cfg.EnableIPv4Masquerade {
			h.OK("masquerading " + podRange.String() + " with nftables table ip " + TableName)
			log.Info("Masquerading pod traffic", "source", podRange, "table", TableName)
		} else {
			h.OK("disabled")
		}
		return nil
	}})
}

// Ruleset returns the nft script that makes the table what cfg asks for. It
// always creates then deletes the table first, so applying it replaces any
// previous version in one transaction.
func Ruleset(cfg Config, podRange netip.Prefix) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s\ndelete table ip %s\n", TableName, TableName)
	if !cfg.EnableIPv4Masquerade {
		return b.String()
	}
	exempt := []string{podRange.String()}
	if cfg.NativeRoutingCIDR != "" {
		exempt = append(exempt, netip.MustParsePrefix(cfg.NativeRoutingCIDR).Masked().String())
	}
	fmt.Fprintf(&b, "table ip %s {\n", TableName)
	fmt.Fprintf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip saddr %s ip daddr != { %s } counter masquerade\n", podRange, strings.Join(exempt, ", "))
	fmt.Fprintf(&b, "\t}\n}\n")
	return b.String()
}

func apply(ctx context.Context, rules string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apply nftables table %s: %w: %s (is the nftables package installed?)", TableName, err, strings.TrimSpace(out.String()))
	}
	return nil
}
