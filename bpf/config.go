package bpf

import (
	"fmt"
	"time"
)

// Config is the datapath's configuration. Its fields become the agent's
// flags; names follow Cilium's where the setting is the same.
type Config struct {
	// BPFRoot is the bpffs directory this agent pins its maps and links
	// in. Agents sharing a kernel (one per simulated node) need distinct
	// roots.
	BPFRoot string `flag:"bpf-root" help:"bpffs directory for this agent's pinned maps and links"`

	// CTGlobalTCPMax and CTGlobalAnyMax size the TCP and non-TCP
	// conntrack maps. Changing them replaces the maps, dropping their
	// entries, at the next start.
	CTGlobalTCPMax int `flag:"bpf-ct-global-tcp-max" help:"maximum number of entries in the TCP conntrack map"`
	CTGlobalAnyMax int `flag:"bpf-ct-global-any-max" help:"maximum number of entries in the non-TCP conntrack map"`

	// EnableTCX attaches programs with TCX links; when false, or when the
	// kernel lacks TCX, with clsact qdiscs and cls_bpf filters.
	EnableTCX bool `flag:"enable-tcx" help:"attach programs with TCX links where the kernel supports it"`

	// MonitorAggregation is how much of the traffic produces flow events:
	// "none" (every packet), "low", "medium" or "maximum" (see
	// AggregationLevel).
	MonitorAggregation string `flag:"monitor-aggregation" help:"level of flow event aggregation: none, low, medium, maximum"`

	// MonitorAggregationInterval is how often a connection that carries
	// traffic is reported again, per direction; 0 turns periodic reports
	// off. Rounded down to seconds.
	MonitorAggregationInterval time.Duration `flag:"monitor-aggregation-interval" help:"interval between periodic flow events of one connection"`

	// EventsSampleRate reports 1 in EventsSampleRate of the packets that
	// aggregation does not report; 0 turns sampling off.
	EventsSampleRate uint32 `flag:"bpf-events-sample-rate" help:"report 1 in N of the packets aggregation does not report (0: off)"`

	// EventsRingBufferSize is the size in bytes of the flow event ring
	// buffer: a power of two, at least one page.
	EventsRingBufferSize int `flag:"bpf-events-ringbuf-size" help:"size in bytes of the flow event ring buffer (power of two)"`

	// LBMapMax sizes the load-balancer maps (services, backends, reverse
	// NAT, Maglev, affinity). Changing it replaces them at the next start.
	LBMapMax int `flag:"bpf-lb-map-max" help:"maximum number of entries in the load-balancer maps"`

	// LBAlgorithm is how a new connection to a service picks its backend:
	// "random", or "maglev" (consistent hashing of the connection's tuple,
	// so every node picks the same backend for it).
	LBAlgorithm string `flag:"bpf-lb-algorithm" help:"backend selection for services: random or maglev"`
}

// Limits of the conntrack map sizes, Cilium's LimitTableMin and
// LimitTableMax.
const (
	CTMapMin = 1 << 10
	CTMapMax = 1 << 24
)

// DefaultConfig is the configuration an agent starts with.
var DefaultConfig = Config{
	BPFRoot:                    "/sys/fs/bpf/hivenet",
	CTGlobalTCPMax:             524288,
	CTGlobalAnyMax:             262144,
	EnableTCX:                  true,
	MonitorAggregation:         "medium",
	MonitorAggregationInterval: 5 * time.Second,
	EventsSampleRate:           0,
	EventsRingBufferSize:       1 << 20,
	LBMapMax:                   65536,
	LBAlgorithm:                LBAlgorithmRandom,
}

// AggregationLevel is a parsed Config.MonitorAggregation.
type AggregationLevel uint8

// Aggregation levels, as Cilium's --monitor-aggregation names them.
const (
	// AggregationNone reports every packet.
	AggregationNone AggregationLevel = iota
	// AggregationLow reports connection start and end, drops, the first
	// occurrence of every TCP flag per direction, and periodic reports.
	AggregationLow
	// AggregationMedium is AggregationLow with only SYN, FIN and RST
	// among the flags.
	AggregationMedium
	// AggregationMaximum reports connection start and end and drops.
	AggregationMaximum
)

var aggregationNames = []string{"none", "low", "medium", "maximum"}

func (l AggregationLevel) String() string {
	if int(l) < len(aggregationNames) {
		return aggregationNames[l]
	}
	return fmt.Sprintf("AggregationLevel(%d)", uint8(l))
}

// ParseAggregationLevel parses a monitor-aggregation value. Cilium's
// "lowest" is accepted as "none".
func ParseAggregationLevel(s string) (AggregationLevel, error) {
	for i, n := range aggregationNames {
		if s == n {
			return AggregationLevel(i), nil
		}
	}
	if s == "lowest" {
		return AggregationNone, nil
	}
	return 0, fmt.Errorf("monitor-aggregation %q: must be one of none, low, medium, maximum", s)
}

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	if c.BPFRoot == "" {
		return fmt.Errorf("bpf-root is empty: it must name a directory on a bpffs")
	}
	for _, m := range []struct {
		flag string
		v    int
	}{{"bpf-ct-global-tcp-max", c.CTGlobalTCPMax}, {"bpf-ct-global-any-max", c.CTGlobalAnyMax}} {
		if m.v < CTMapMin || m.v > CTMapMax {
			return fmt.Errorf("%s=%d: must be between %d and %d", m.flag, m.v, CTMapMin, CTMapMax)
		}
	}
	if _, err := ParseAggregationLevel(c.MonitorAggregation); err != nil {
		return err
	}
	if c.MonitorAggregationInterval < 0 {
		return fmt.Errorf("monitor-aggregation-interval=%s: must not be negative", c.MonitorAggregationInterval)
	}
	if c.LBMapMax < CTMapMin || c.LBMapMax > CTMapMax {
		return fmt.Errorf("bpf-lb-map-max=%d: must be between %d and %d", c.LBMapMax, CTMapMin, CTMapMax)
	}
	if c.LBAlgorithm != LBAlgorithmRandom && c.LBAlgorithm != LBAlgorithmMaglev {
		return fmt.Errorf("bpf-lb-algorithm=%q: must be %q or %q", c.LBAlgorithm, LBAlgorithmRandom, LBAlgorithmMaglev)
	}
	if n := c.EventsRingBufferSize; n < 4096 || n&(n-1) != 0 || n > 1<<30 {
		return fmt.Errorf("bpf-events-ringbuf-size=%d: must be a power of two between 4096 and 1073741824", n)
	}
	return nil
}
