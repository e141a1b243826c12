package flow

import (
	"fmt"
	"net/url"
	"strconv"
)

// Filter selects flows. Each field holds the values of the `hivenet
// observe` flag of the same name (and the query parameter of GET /v1/flows
// of the same name): a flow matches a field when it matches any of its
// values, and matches the filter when it matches every non-empty field.
// The "either side" fields (Pod, Namespace, IP, Port, Label, Identity)
// match when the source or the destination matches.
//
// Values are validated where the filter is applied (the agent), which
// answers a bad value with an error naming the flag.
type Filter struct {
	FromPod, ToPod, Pod                   []string // "[namespace/]pod-name-prefix", "namespace/" for all of a namespace
	FromNamespace, ToNamespace, Namespace []string
	FromIP, ToIP, IP                      []string // address or CIDR
	FromPort, ToPort, Port                []string
	FromLabel, ToLabel, Label             []string // "k=v,k2!=v2,k3,!k4"; a "k8s:" source prefix is ignored
	FromIdentity, ToIdentity, Identity    []string // numeric security identity or reserved name ("world")
	Verdict                               []string // FORWARDED, DROPPED, ...
	Protocol                              []string // tcp, udp, icmp
	Type                                  []string // trace, drop, policy-verdict, trace:to-endpoint, drop:133
}

// FilterField is one field of a Filter with its flag / parameter name.
type FilterField struct {
	Name   string
	Help   string
	Values *[]string
}

// Fields lists f's fields with their flag names, in the order `hivenet
// observe --help` shows them.
func (f *Filter) Fields() []FilterField {
	return []FilterField{
		{"from-pod", "Show flows from pods whose [namespace/]name starts with this (\"ns/\": the whole namespace; no namespace: default)", &f.FromPod},
		{"to-pod", "Show flows to pods whose [namespace/]name starts with this", &f.ToPod},
		{"pod", "Show flows from or to pods whose [namespace/]name starts with this", &f.Pod},
		{"from-namespace", "Show flows from pods in this namespace", &f.FromNamespace},
		{"to-namespace", "Show flows to pods in this namespace", &f.ToNamespace},
		{"namespace", "Show flows from or to pods in this namespace", &f.Namespace},
		{"from-ip", "Show flows from this IP address or CIDR", &f.FromIP},
		{"to-ip", "Show flows to this IP address or CIDR", &f.ToIP},
		{"ip", "Show flows from or to this IP address or CIDR", &f.IP},
		{"from-port", "Show flows from this L4 port", &f.FromPort},
		{"to-port", "Show flows to this L4 port", &f.ToPort},
		{"port", "Show flows from or to this L4 port", &f.Port},
		{"from-label", "Show flows from pods with these labels (k=v,k!=v,k,!k)", &f.FromLabel},
		{"to-label", "Show flows to pods with these labels", &f.ToLabel},
		{"label", "Show flows from or to pods with these labels", &f.Label},
		{"from-identity", "Show flows from this security identity (number or reserved name)", &f.FromIdentity},
		{"to-identity", "Show flows to this security identity", &f.ToIdentity},
		{"identity", "Show flows from or to this security identity", &f.Identity},
		{"verdict", "Show flows with this verdict (FORWARDED, DROPPED, ...)", &f.Verdict},
		{"protocol", "Show flows of this L4 protocol (tcp, udp, icmp)", &f.Protocol},
		{"type", "Show flows of this event type (trace, drop, policy-verdict; trace:to-endpoint, drop:133)", &f.Type},
	}
}

// Query is what GET /v1/flows takes: how much history, whether to follow,
// and the filter.
type Query struct {
	// Last is how many of the most recent matching flows to return first.
	Last int
	// Follow keeps the stream open and sends new matching flows as they
	// arrive.
	Follow bool
	Filter Filter
}

// DefaultLast is how many flows a query returns when it asks for neither
// Last nor Follow, as `hubble observe` does.
const DefaultLast = 20

// Values encodes q as query parameters.
func (q *Query) Values() url.Values {
	v := url.Values{}
	if q.Last > 0 {
		v.Set("last", strconv.Itoa(q.Last))
	}
	if q.Follow {
		v.Set("follow", "1")
	}
	for _, f := range q.Filter.Fields() {
		for _, x := range *f.Values {
			v.Add(f.Name, x)
		}
	}
	return v
}

// ParseQuery decodes query parameters. Unknown parameters are an error, so
// a misspelt filter does not silently match everything.
func ParseQuery(v url.Values) (Query, error) {
	var q Query
	known := map[string]*[]string{}
	for _, f := range q.Filter.Fields() {
		known[f.Name] = f.Values
	}
	for name, vals := range v {
		switch name {
		case "last":
			n, err := strconv.Atoi(v.Get(name))
			if err != nil || n < 0 {
				return Query{}, fmt.Errorf("invalid value %q for last: want a number of flows >= 0", v.Get(name))
			}
			q.Last = n
		case "follow":
			b, err := strconv.ParseBool(v.Get(name))
			if err != nil {
				return Query{}, fmt.Errorf("invalid value %q for follow: want 1 or 0", v.Get(name))
			}
			q.Follow = b
		default:
			p, ok := known[name]
			if !ok {
				return Query{}, fmt.Errorf("unknown flow filter %q", name)
			}
			*p = append(*p, vals...)
		}
	}
	if !v.Has("last") && !q.Follow {
		q.Last = DefaultLast
	}
	return q, nil
}
