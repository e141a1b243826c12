package observe

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/observe/flow"
)

// matcher reports whether a record passes a filter.
type matcher func(*Record) bool

// side picks one end of a flow: its address, port and endpoint.
type side struct {
	addr     func(*Record) netip.AddrPort
	ep       func(*Record) *endpoints.Endpoint
	identity func(*Record) uint32
}

var (
	srcSide = side{
		addr:     func(r *Record) netip.AddrPort { return r.Flow.Src },
		ep:       func(r *Record) *endpoints.Endpoint { return r.SrcEP },
		identity: func(r *Record) uint32 { return r.SrcIdentity },
	}
	dstSide = side{
		addr:     func(r *Record) netip.AddrPort { return r.Flow.Dst },
		ep:       func(r *Record) *endpoints.Endpoint { return r.DstEP },
		identity: func(r *Record) uint32 { return r.DstIdentity },
	}
)

// sidePred is a predicate on one side of a flow.
type sidePred func(*Record, side) bool

// compileFilter turns a filter into a matcher, rejecting values that make
// no sense with an error that names the flag. A nil matcher matches all.
func compileFilter(f flow.Filter) (matcher, error) {
	var ms []matcher
	add := func(m matcher, err error) error {
		if err != nil {
			return err
		}
		if m != nil {
			ms = append(ms, m)
		}
		return nil
	}
	sided := []struct {
		from, to, either []string
		name             string
		parse            func(string) (sidePred, error)
	}{
		{f.FromPod, f.ToPod, f.Pod, "pod", parsePod},
		{f.FromNamespace, f.ToNamespace, f.Namespace, "namespace", parseNamespace},
		{f.FromIP, f.ToIP, f.IP, "ip", parseIP},
		{f.FromPort, f.ToPort, f.Port, "port", parsePort},
		{f.FromLabel, f.ToLabel, f.Label, "label", parseLabels},
		{f.FromIdentity, f.ToIdentity, f.Identity, "identity", parseIdentity},
	}
	for _, s := range sided {
		for _, x := range []struct {
			vals  []string
			flag  string
			sides []side
		}{
			{s.from, "from-" + s.name, []side{srcSide}},
			{s.to, "to-" + s.name, []side{dstSide}},
			{s.either, s.name, []side{srcSide, dstSide}},
		} {
			if err := add(anyOf(x.flag, x.vals, x.sides, s.parse)); err != nil {
				return nil, err
			}
		}
	}
	if err := add(verdictMatcher(f.Verdict)); err != nil {
		return nil, err
	}
	if err := add(protocolMatcher(f.Protocol)); err != nil {
		return nil, err
	}
	if err := add(typeMatcher(f.Type)); err != nil {
		return nil, err
	}
	switch len(ms) {
	case 0:
		return nil, nil
	case 1:
		return ms[0], nil
	}
	return func(r *Record) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}, nil
}

// anyOf matches records where any value's predicate holds on any of sides.
func anyOf(flag string, vals []string, sides []side, parse func(string) (sidePred, error)) (matcher, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	preds := make([]sidePred, 0, len(vals))
	for _, v := range vals {
		p, err := parse(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value %q for --%s: %w", v, flag, err)
		}
		preds = append(preds, p)
	}
	return func(r *Record) bool {
		for _, s := range sides {
			for _, p := range preds {
				if p(r, s) {
					return true
				}
			}
		}
		return false
	}, nil
}

// parsePod parses "[namespace/]pod-name-prefix"; "namespace/" selects the
// namespace, no namespace means "default" (as hubble observe has it).
func parsePod(v string) (sidePred, error) {
	ns, prefix, ok := strings.Cut(v, "/")
	if !ok {
		ns, prefix = "default", v
	}
	if ns == "" {
		return nil, fmt.Errorf("empty namespace: want [namespace/]pod-name-prefix")
	}
	return func(r *Record, s side) bool {
		ep := s.ep(r)
		return ep != nil && ep.Namespace == ns && strings.HasPrefix(ep.Pod, prefix)
	}, nil
}

func parseNamespace(v string) (sidePred, error) {
	if v == "" || strings.Contains(v, "/") {
		return nil, fmt.Errorf("want a namespace name")
	}
	return func(r *Record, s side) bool {
		ep := s.ep(r)
		return ep != nil && ep.Namespace == v
	}, nil
}

func parseIP(v string) (sidePred, error) {
	var pfx netip.Prefix
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, fmt.Errorf("want an IP address or CIDR: %w", err)
		}
		pfx = p.Masked()
	} else {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("want an IP address or CIDR: %w", err)
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	return func(r *Record, s side) bool { return pfx.Contains(s.addr(r).Addr()) }, nil
}

func parsePort(v string) (sidePred, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("want a port number 0-65535")
	}
	port := uint16(n)
	return func(r *Record, s side) bool {
		// ICMP flows carry the echo identifier where ports would be.
		return (r.Proto == bpf.ProtoTCP || r.Proto == bpf.ProtoUDP) && s.addr(r).Port() == port
	}, nil
}

// labelTerm is one term of a label selector.
type labelTerm struct {
	key, value string
	op         string // "=", "!=", "exists", "!exists"
	reserved   bool   // key is "reserved:<name>": matches a reserved identity
}

// parseLabels parses "k=v,k!=v,k,!k": every term must hold. A "k8s:" or
// "any:" source prefix is dropped; "reserved:world" matches the reserved
// identity of that name.
func parseLabels(v string) (sidePred, error) {
	if strings.ContainsAny(v, "()") {
		return nil, fmt.Errorf("set-based selectors (in, notin) are not supported: use k=v, k!=v, k or !k terms")
	}
	var terms []labelTerm
	for t := range strings.SplitSeq(v, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, fmt.Errorf("empty label term")
		}
		var lt labelTerm
		switch {
		case strings.Contains(t, "!="):
			lt.key, lt.value, _ = strings.Cut(t, "!=")
			lt.op = "!="
		case strings.Contains(t, "="):
			lt.key, lt.value, _ = strings.Cut(t, "=")
			lt.value = strings.TrimPrefix(lt.value, "=") // k==v
			lt.op = "="
		case strings.HasPrefix(t, "!"):
			lt.key, lt.op = t[1:], "!exists"
		default:
			lt.key, lt.op = t, "exists"
		}
		lt.key = strings.TrimSpace(lt.key)
		lt.value = strings.TrimSpace(lt.value)
		if src, k, ok := strings.Cut(lt.key, ":"); ok {
			switch src {
			case "k8s", "any":
				lt.key = k
			case "reserved":
				lt.key, lt.reserved = k, true
			default:
				return nil, fmt.Errorf("label source %q: want one of k8s, any or reserved", src)
			}
		}
		if lt.key == "" {
			return nil, fmt.Errorf("empty label key")
		}
		terms = append(terms, lt)
	}
	return func(r *Record, s side) bool {
		ep := s.ep(r)
		for _, t := range terms {
			if !t.holds(ep, s.identity(r)) {
				return false
			}
		}
		return true
	}, nil
}

func (t labelTerm) holds(ep *endpoints.Endpoint, identity uint32) bool {
	var val string
	var has bool
	switch {
	case t.reserved:
		name, ok := flow.ReservedIdentityName(identity)
		has = ok && name == t.key && identity != flow.IdentityUnknown
	case ep == nil:
	case t.key == podNamespaceLabel:
		val, has = ep.Namespace, ep.Namespace != ""
	default:
		val, has = ep.Labels[t.key]
	}
	switch t.op {
	case "=":
		return has && val == t.value
	case "!=":
		return !has || val != t.value
	case "exists":
		return has
	}
	return !has
}

func parseIdentity(v string) (sidePred, error) {
	id, err := parseIdentityValue(v)
	if err != nil {
		return nil, err
	}
	return func(r *Record, s side) bool { return s.identity(r) == id }, nil
}

func parseIdentityValue(v string) (uint32, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return uint32(n), nil
	}
	for id := uint32(0); id < 256; id++ {
		if name, ok := flow.ReservedIdentityName(id); ok && name == v {
			return id, nil
		}
	}
	return 0, fmt.Errorf("want a numeric identity or a reserved name (host, world, ...)")
}

func verdictMatcher(vals []string) (matcher, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	want := make([]string, 0, len(vals))
	for _, v := range vals {
		u := strings.ToUpper(v)
		if !slices.Contains(flow.Verdicts, u) {
			return nil, fmt.Errorf("invalid value %q for --verdict: want one of %s", v, strings.Join(flow.Verdicts, ", "))
		}
		want = append(want, u)
	}
	return func(r *Record) bool { return slices.Contains(want, r.Verdict.String()) }, nil
}

func protocolMatcher(vals []string) (matcher, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	var want []uint8
	for _, v := range vals {
		switch strings.ToLower(v) {
		case "tcp":
			want = append(want, bpf.ProtoTCP)
		case "udp":
			want = append(want, bpf.ProtoUDP)
		case "icmp", "icmpv4":
			want = append(want, bpf.ProtoICMP)
		case "http", "dns", "kafka":
			return nil, fmt.Errorf("invalid value %q for --protocol: L7 flows need the L7 proxy, which this agent does not run", v)
		default:
			return nil, fmt.Errorf("invalid value %q for --protocol: the datapath observes tcp, udp and icmp", v)
		}
	}
	return func(r *Record) bool { return slices.Contains(want, r.Proto) }, nil
}

// typeMatcher parses Hubble's event type filters: "trace", "drop",
// "policy-verdict", optionally with a sub-type: "trace:to-endpoint",
// "drop:133".
func typeMatcher(vals []string) (matcher, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	var ms []matcher
	for _, v := range vals {
		typ, sub, hasSub := strings.Cut(strings.ToLower(v), ":")
		bad := func(why string) error { return fmt.Errorf("invalid value %q for --type: %s", v, why) }
		switch typ {
		case "trace":
			if !hasSub {
				ms = append(ms, func(r *Record) bool { return r.Verdict != bpf.VerdictDropped })
				continue
			}
			want := int32(-1)
			for p := range bpf.ObservationPoint(255) {
				if st, _, text := flow.TracePoint(bpf.ObservationPoint(p)); text == sub || strconv.Itoa(int(st)) == sub {
					want = st
				}
			}
			if want < 0 {
				return nil, bad("unknown observation point; want one of " + strings.Join(flow.TraceTexts(), ", "))
			}
			ms = append(ms, func(r *Record) bool {
				st, _, _ := flow.TracePoint(r.Point)
				return r.Verdict != bpf.VerdictDropped && st == want
			})
		case "drop":
			if !hasSub {
				ms = append(ms, func(r *Record) bool { return r.Verdict == bpf.VerdictDropped })
				continue
			}
			n, err := strconv.ParseUint(sub, 10, 8)
			if err != nil {
				return nil, bad("want drop:<reason number>")
			}
			reason := bpf.DropReason(n)
			ms = append(ms, func(r *Record) bool { return r.Verdict == bpf.VerdictDropped && r.DropReason == reason })
		case "policy-verdict":
			// The datapath does not report policy verdict events yet, so
			// this filter is valid and matches nothing.
			ms = append(ms, func(*Record) bool { return false })
		case "l7", "capture", "debug", "trace-sock", "agent":
			return nil, bad("this agent does not produce " + typ + " events")
		default:
			return nil, bad("want trace, drop or policy-verdict, optionally :<sub-type>")
		}
	}
	return func(r *Record) bool {
		for _, m := range ms {
			if m(r) {
				return true
			}
		}
		return false
	}, nil
}
