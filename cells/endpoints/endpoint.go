package endpoints

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// State is where an endpoint is in its life.
type State string

const (
	// StateReady: wired, addressed, programs attached; traffic flows.
	StateReady State = "ready"
	// StateDisconnecting: DEL is releasing it.
	StateDisconnecting State = "disconnecting"
)

// Endpoint is one pod interface on this node, as the endpoints table holds it.
// Objects are immutable once in the table; change a copy.
type Endpoint struct {
	// ID is the node-local endpoint id (1..65535), as Cilium numbers endpoints.
	ID uint16 `json:"id"`
	// ContainerID and IfName identify the CNI attachment (CNI_CONTAINERID, CNI_IFNAME).
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
	// Netns is the pod's network namespace path as the runtime gave it.
	Netns string `json:"netns"`

	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// Labels are the pod's labels when known (from the k8s pod object).
	Labels map[string]string `json:"labels,omitempty"`
	// Identity is the endpoint's security identity; 0 until the identity
	// cell assigns one.
	Identity uint32 `json:"identity"`

	// HostIfName / HostIfIndex / HostMAC are the node side of the veth pair
	// (lxc...), where the datapath programs attach.
	HostIfName  string `json:"hostIfName"`
	HostIfIndex int    `json:"hostIfIndex"`
	HostMAC     string `json:"hostMAC"`
	// IfIndex / MAC are the pod side (eth0) as seen inside the pod.
	IfIndex int    `json:"ifIndex"`
	MAC     string `json:"mac"`

	IPv4 netip.Addr `json:"ipv4"`
	// Router is the gateway address the pod routes through.
	Router  netip.Addr `json:"router"`
	State   State      `json:"state"`
	Created time.Time  `json:"created"`

	// Status says whether the endpoint is in the datapath's endpoints map.
	Status reconcilers.Status `json:"status"`
}

// PodName returns "namespace/pod", or the container id when the pod is unknown.
func (e *Endpoint) PodName() string {
	if e.Pod == "" {
		return e.ContainerID
	}
	return e.Namespace + "/" + e.Pod
}

// TableHeader implements statedb's row rendering (hivenet db show endpoints).
func (e *Endpoint) TableHeader() []string {
	return []string{"ID", "Pod", "IPv4", "Identity", "Host interface", "State", "Datapath", "Container"}
}

// TableRow implements statedb's row rendering.
func (e *Endpoint) TableRow() []string {
	return []string{
		strconv.Itoa(int(e.ID)), e.PodName(), e.IPv4.String(), strconv.FormatUint(uint64(e.Identity), 10),
		fmt.Sprintf("%s (%d)", e.HostIfName, e.HostIfIndex), string(e.State), e.Status.String(), shortID(e.ContainerID),
	}
}

// LabelsString renders labels sorted, k8s style.
func (e *Endpoint) LabelsString() string {
	keys := make([]string, 0, len(e.Labels))
	for k := range e.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + e.Labels[k]
	}
	return strings.Join(parts, ",")
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// TableName is the endpoints table's name.
const TableName = "endpoints"

var (
	// ByID is the primary index: the endpoint id.
	ByID = statedb.Index[*Endpoint, uint16]{
		Name:       "id",
		FromObject: func(e *Endpoint) index.KeySet { return index.NewKeySet(index.Uint16(e.ID)) },
		FromKey:    index.Uint16,
		FromString: index.Uint16String,
		Unique:     true,
	}
	// ByIPv4 finds the endpoint that owns a pod address.
	ByIPv4 = statedb.Index[*Endpoint, netip.Addr]{
		Name:       "ipv4",
		FromObject: func(e *Endpoint) index.KeySet { return index.NewKeySet(index.NetIPAddr(e.IPv4)) },
		FromKey:    index.NetIPAddr,
		FromString: index.NetIPAddrString,
		Unique:     true,
	}
	// ByContainer finds the endpoint of a CNI attachment: "containerID/ifName".
	ByContainer = statedb.Index[*Endpoint, string]{
		Name:       "container",
		FromObject: func(e *Endpoint) index.KeySet { return index.NewKeySet(index.String(e.ContainerID + "/" + e.IfName)) },
		FromKey:    index.String,
		FromString: index.FromString,
		Unique:     true,
	}
	// ByPod lists the endpoints of a pod: "namespace/name".
	ByPod = statedb.Index[*Endpoint, string]{
		Name:       "pod",
		FromObject: func(e *Endpoint) index.KeySet { return index.NewKeySet(index.String(e.Namespace + "/" + e.Pod)) },
		FromKey:    index.String,
		FromString: index.FromString,
	}
)

// NewTable returns a new endpoints table; the endpoints cell registers it.
func NewTable() (statedb.RWTable[*Endpoint], error) {
	return statedb.NewTable(TableName, ByID, ByIPv4, ByContainer, ByPod)
}
