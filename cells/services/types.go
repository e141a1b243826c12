package services

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// L3n4Addr is an address, port and L4 protocol: a frontend or a backend.
type L3n4Addr struct {
	Addr  netip.Addr `json:"addr"`
	Port  uint16     `json:"port"`
	Proto uint8      `json:"proto"` // bpf.ProtoTCP, bpf.ProtoUDP
}

// AddrPort returns the address and port.
func (a L3n4Addr) AddrPort() netip.AddrPort { return netip.AddrPortFrom(a.Addr, a.Port) }

// String reads "10.96.0.10:80/TCP", as Cilium prints it.
func (a L3n4Addr) String() string {
	return a.AddrPort().String() + "/" + bpf.ProtoName(a.Proto)
}

// key is the index key: address, port, protocol, in an order that sorts
// frontends by address.
func (a L3n4Addr) key() index.Key {
	b := a.Addr.As4()
	return index.Key{b[0], b[1], b[2], b[3], byte(a.Port >> 8), byte(a.Port), a.Proto}
}

func parseL3n4Addr(s string) (L3n4Addr, error) {
	ap, proto, _ := strings.Cut(s, "/")
	a, err := netip.ParseAddrPort(ap)
	if err != nil {
		return L3n4Addr{}, fmt.Errorf("address %q: want 10.96.0.10:80/TCP: %w", s, err)
	}
	p, err := parseProto(proto)
	if err != nil {
		return L3n4Addr{}, err
	}
	return L3n4Addr{Addr: a.Addr(), Port: a.Port(), Proto: p}, nil
}

func parseProto(s string) (uint8, error) {
	switch strings.ToUpper(s) {
	case "TCP", "":
		return bpf.ProtoTCP, nil
	case "UDP":
		return bpf.ProtoUDP, nil
	}
	return 0, fmt.Errorf("protocol %q: want TCP or UDP", s)
}

// ServiceName names a Service.
type ServiceName struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (n ServiceName) String() string { return n.Namespace + "/" + n.Name }

// SVCType is the kind of a frontend, as Cilium names it.
type SVCType string

// Frontend types.
const (
	SVCTypeClusterIP    SVCType = "ClusterIP"
	SVCTypeNodePort     SVCType = "NodePort"
	SVCTypeLoadBalancer SVCType = "LoadBalancer"
	SVCTypeExternalIPs  SVCType = "ExternalIPs"
)

// TrafficPolicy is a Service's internal or external traffic policy.
type TrafficPolicy string

// Traffic policies.
const (
	TrafficPolicyCluster TrafficPolicy = "Cluster"
	TrafficPolicyLocal   TrafficPolicy = "Local"
)

// BackendState is a backend's state, Cilium's.
type BackendState uint8

// Backend states. Quarantined backends (failed health checks) are kept
// out of the slots like terminating ones; nothing quarantines one yet.
const (
	BackendStateActive      = BackendState(bpf.BackendStateActive)
	BackendStateTerminating = BackendState(bpf.BackendStateTerminating)
	BackendStateQuarantined = BackendState(bpf.BackendStateQuarantined)
)

func (s BackendState) String() string { return bpf.BackendStateName(uint8(s)) }

// MarshalText makes the state a word in JSON.
func (s BackendState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses what MarshalText wrote.
func (s *BackendState) UnmarshalText(b []byte) error {
	for _, st := range []BackendState{BackendStateActive, BackendStateTerminating, BackendStateQuarantined} {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("backend state %q: want active, terminating or quarantined", b)
}

// Service is a Kubernetes Service as the load balancer sees it.
type Service struct {
	Name ServiceName `json:"name"`
	// SessionAffinity is sessionAffinity: ClientIP, with its timeout in
	// seconds.
	SessionAffinity        bool          `json:"sessionAffinity"`
	SessionAffinityTimeout uint32        `json:"sessionAffinityTimeout,omitempty"`
	ExtTrafficPolicy       TrafficPolicy `json:"extTrafficPolicy"`
	IntTrafficPolicy       TrafficPolicy `json:"intTrafficPolicy"`
	// HealthCheckNodePort answers how many local backends the service has,
	// for externalTrafficPolicy: Local LoadBalancers; 0 if none.
	HealthCheckNodePort uint16 `json:"healthCheckNodePort,omitempty"`
	// LocalBackends counts the service's active backends on this node,
	// what the health-check node port reports.
	LocalBackends int `json:"localBackends"`
}

// TableHeader implements statedb.TableWritable.
func (*Service) TableHeader() []string {
	return []string{"Name", "Affinity", "ExtTrafficPolicy", "IntTrafficPolicy", "HealthCheckNodePort", "LocalBackends"}
}

// TableRow implements statedb.TableWritable.
func (s *Service) TableRow() []string {
	aff := "None"
	if s.SessionAffinity {
		aff = "ClientIP/" + strconv.Itoa(int(s.SessionAffinityTimeout)) + "s"
	}
	return []string{s.Name.String(), aff, string(s.ExtTrafficPolicy), string(s.IntTrafficPolicy),
		strconv.Itoa(int(s.HealthCheckNodePort)), strconv.Itoa(s.LocalBackends)}
}

// Backend is one backend address and what serves behind it.
type Backend struct {
	Address  L3n4Addr     `json:"address"`
	ID       uint32       `json:"id"`
	State    BackendState `json:"state"`
	NodeName string       `json:"nodeName,omitempty"`
	Zone     string       `json:"zone,omitempty"`
	// Services are the services the backend serves, sorted.
	Services []ServiceName `json:"services"`
}

// TableHeader implements statedb.TableWritable.
func (*Backend) TableHeader() []string {
	return []string{"Address", "ID", "State", "Node", "Zone", "Services"}
}

// TableRow implements statedb.TableWritable.
func (b *Backend) TableRow() []string {
	names := make([]string, len(b.Services))
	for i, s := range b.Services {
		names[i] = s.String()
	}
	return []string{b.Address.String(), strconv.Itoa(int(b.ID)), b.State.String(), b.NodeName, b.Zone, strings.Join(names, ", ")}
}

// FrontendBackend is a backend as a frontend uses it.
type FrontendBackend struct {
	ID      uint32       `json:"id"`
	Address L3n4Addr     `json:"address"`
	State   BackendState `json:"state"`
}

// Frontend is one address and port a service answers on, and the backends
// behind it: the desired state of the lb4 maps.
type Frontend struct {
	Address     L3n4Addr    `json:"address"` // 0.0.0.0:<nodePort> for NodePort
	Type        SVCType     `json:"type"`
	ServiceName ServiceName `json:"serviceName"`
	PortName    string      `json:"portName,omitempty"`
	// ID is the frontend's id in the maps, its reverse NAT index.
	ID uint16 `json:"id"`
	// Backends are every backend the frontend may use, sorted by address:
	// the active ones, or (only when there is none) the terminating ones
	// that still serve, take the slots; terminating ones next to active
	// ones stay in the backends map so their connections finish.
	Backends []FrontendBackend `json:"backends"`
	// Flags and Flags2 are the service flags of slot 0 (bpf.SvcFlag*).
	Flags  uint8 `json:"flags"`
	Flags2 uint8 `json:"flags2"`
	// AffinityTimeout is the ClientIP affinity timeout in seconds.
	AffinityTimeout uint32 `json:"affinityTimeout,omitempty"`

	Status reconcilers.Status `json:"status"`
}

// Slots returns the backends that take the frontend's slots 1..N.
func (f *Frontend) Slots() []FrontendBackend {
	var active, terminating []FrontendBackend
	for _, b := range f.Backends {
		switch b.State {
		case BackendStateActive:
			active = append(active, b)
		case BackendStateTerminating:
			terminating = append(terminating, b)
		}
	}
	if len(active) > 0 {
		return active
	}
	return terminating
}

// sameAs reports whether f and g ask the same of the maps.
func (f *Frontend) sameAs(g *Frontend) bool {
	return f.Address == g.Address && f.Type == g.Type && f.ServiceName == g.ServiceName &&
		f.PortName == g.PortName && f.ID == g.ID && f.Flags == g.Flags && f.Flags2 == g.Flags2 &&
		f.AffinityTimeout == g.AffinityTimeout && slices.Equal(f.Backends, g.Backends)
}

// TableHeader implements statedb.TableWritable.
func (*Frontend) TableHeader() []string {
	return []string{"Address", "Type", "ServiceName", "PortName", "ID", "Backends", "Status"}
}

// TableRow implements statedb.TableWritable.
func (f *Frontend) TableRow() []string {
	bes := make([]string, len(f.Backends))
	for i, b := range f.Backends {
		bes[i] = b.Address.String()
		if b.State != BackendStateActive {
			bes[i] += " (" + b.State.String() + ")"
		}
	}
	return []string{f.Address.String(), string(f.Type), f.ServiceName.String(), f.PortName,
		strconv.Itoa(int(f.ID)), strings.Join(bes, ", "), f.Status.String()}
}

// Table names, as `hivenet db show` lists them.
const (
	FrontendsTableName = "frontends"
	BackendsTableName  = "backends"
	ServicesTableName  = "services"
)

func serviceKey(n ServiceName) index.Key { return index.String(n.String()) }

func parseServiceName(s string) (index.Key, error) {
	if !strings.Contains(s, "/") {
		return nil, fmt.Errorf("service %q: want namespace/name", s)
	}
	return index.String(s), nil
}

func parseAddrKey(s string) (index.Key, error) {
	a, err := parseL3n4Addr(s)
	if err != nil {
		return nil, err
	}
	return a.key(), nil
}

var (
	// FrontendAddressIndex is the frontends' primary index.
	FrontendAddressIndex = statedb.Index[*Frontend, L3n4Addr]{
		Name:       "address",
		FromObject: func(f *Frontend) index.KeySet { return index.NewKeySet(f.Address.key()) },
		FromKey:    L3n4Addr.key,
		FromString: parseAddrKey,
		Unique:     true,
	}
	// FrontendServiceIndex finds a service's frontends.
	FrontendServiceIndex = statedb.Index[*Frontend, ServiceName]{
		Name:       "service",
		FromObject: func(f *Frontend) index.KeySet { return index.NewKeySet(serviceKey(f.ServiceName)) },
		FromKey:    serviceKey,
		FromString: parseServiceName,
	}
	// BackendAddressIndex is the backends' primary index.
	BackendAddressIndex = statedb.Index[*Backend, L3n4Addr]{
		Name:       "address",
		FromObject: func(b *Backend) index.KeySet { return index.NewKeySet(b.Address.key()) },
		FromKey:    L3n4Addr.key,
		FromString: parseAddrKey,
		Unique:     true,
	}
	// ServiceNameIndex is the services' primary index.
	ServiceNameIndex = statedb.Index[*Service, ServiceName]{
		Name:       "name",
		FromObject: func(s *Service) index.KeySet { return index.NewKeySet(serviceKey(s.Name)) },
		FromKey:    serviceKey,
		FromString: parseServiceName,
		Unique:     true,
	}
)

// Tables are the load balancer's tables.
type Tables struct {
	Frontends statedb.RWTable[*Frontend]
	Backends  statedb.RWTable[*Backend]
	Services  statedb.RWTable[*Service]
}

// NewTables makes the tables and registers them with db.
func NewTables(db *statedb.DB) (Tables, error) {
	fe, err := statedb.NewTable(FrontendsTableName, FrontendAddressIndex, FrontendServiceIndex)
	if err != nil {
		return Tables{}, err
	}
	be, err := statedb.NewTable(BackendsTableName, BackendAddressIndex)
	if err != nil {
		return Tables{}, err
	}
	svc, err := statedb.NewTable(ServicesTableName, ServiceNameIndex)
	if err != nil {
		return Tables{}, err
	}
	if err := db.RegisterTable(fe, be, svc); err != nil {
		return Tables{}, err
	}
	return Tables{Frontends: fe, Backends: be, Services: svc}, nil
}
