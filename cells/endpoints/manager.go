package endpoints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/cells/statedir"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
)

const (
	ebpfHash = ebpf.Hash
	// endpointsMapSize is cilium_lxc's size in bpf/lib/endpoints.h.
	endpointsMapSize = 65535
	maxEndpointID    = 65535
)

// errNotReady is returned for CNI requests that arrive before the restore.
var errNotReady = errors.New("endpoints not restored yet")

// manager owns the endpoints: it is the endpoints table's only writer apart
// from the reconciler's status write-back.
type manager struct {
	cfg      Config
	db       *statedb.DB
	table    statedb.RWTable[*Endpoint]
	ipam     ipam.IPAM
	dp       datapath.Datapath
	stateDir string
	// socketPath is the agent's API socket, for the CNI conflist.
	socketPath string
	metrics    *reconcilers.Metrics
	log        *slog.Logger
	jobs       cell.Jobs
	health     cell.Health

	initDone   func(statedb.WriteTxn)
	epMap      *bpfmap.Map[bpf.EndpointKey, bpf.EndpointInfo]
	reconciler *reconcilers.Reconciler[*Endpoint]

	// mu serialises CNI operations: they are rare and each does a series
	// of kernel changes that must not interleave for one attachment.
	mu    sync.Mutex
	ready bool
}

// AddRequest is an attachment to create.
type AddRequest struct {
	ContainerID, IfName, Netns string
	Namespace, Pod             string
}

// add wires a new endpoint, or returns the existing one when the same
// attachment is added again into the same namespace (a runtime retrying an
// ADD whose answer it lost must get the same result, not a second address).
func (m *manager) add(ctx context.Context, req AddRequest) (*Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ready {
		return nil, errNotReady
	}
	owner := req.ContainerID + "/" + req.IfName
	if old, _, ok := m.table.Get(m.db.ReadTxn(), ByContainer.Query(owner)); ok {
		if old.Netns == req.Netns && checkWiring(old) == nil {
			return old, nil
		}
		// The old attachment is broken or belongs to another namespace:
		// replace it, as Cilium replaces an endpoint re-added with the same
		// container id.
		if err := m.remove(ctx, old); err != nil {
			return nil, fmt.Errorf("replace stale endpoint %d: %w", old.ID, err)
		}
	}
	pod := ""
	if req.Pod != "" {
		pod = req.Namespace + "/" + req.Pod
	}
	ip, err := m.ipam.Allocate(owner, pod)
	if err != nil {
		return nil, err
	}
	ep, err := m.create(ctx, req, ip)
	if err != nil {
		if rerr := m.ipam.Release(owner); rerr != nil {
			m.log.Error("Failed to release address after failed ADD", "ip", ip, "error", rerr)
		}
		return nil, err
	}
	m.log.Info("Endpoint created", "id", ep.ID, "pod", ep.PodName(), "ipv4", ep.IPv4, "interface", ep.HostIfName)
	return ep, nil
}

func (m *manager) create(ctx context.Context, req AddRequest, ip netip.Addr) (_ *Endpoint, err error) {
	id, err := m.freeID()
	if err != nil {
		return nil, err
	}
	hostName := hostIfName(req.ContainerID, req.IfName)
	router := m.ipam.Router()
	w, err := wire(req.Netns, req.IfName, hostName, ip, router, m.cfg.MTU)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = m.dp.Detach(hostName)
			_ = unwire(hostName)
		}
	}()
	if _, err := m.dp.Attach(hostName); err != nil {
		return nil, fmt.Errorf("attach datapath to %s: %w", hostName, err)
	}
	ep := &Endpoint{
		ID: id, ContainerID: req.ContainerID, IfName: req.IfName, Netns: req.Netns,
		Namespace: req.Namespace, Pod: req.Pod,
		HostIfName: hostName, HostIfIndex: w.hostIfIndex, HostMAC: w.hostMAC.String(),
		IfIndex: w.podIfIndex, MAC: w.podMAC.String(),
		IPv4: ip, Router: router, State: StateReady, Created: time.Now(),
		Status: reconcilers.StatusPending(),
	}
	if err := m.persist(ep); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(m.stateFile(ep.ID))
		}
	}()
	rev, err := m.write(func(wtxn statedb.WriteTxn) error {
		_, _, err := m.table.Insert(wtxn, ep)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The datapath drops packets from addresses it does not know, so the
	// pod must not start before its entry is in the map.
	if err := m.waitInDatapath(ctx, ep, rev); err != nil {
		_, _ = m.write(func(wtxn statedb.WriteTxn) error { _, _, err := m.table.Delete(wtxn, ep); return err })
		return nil, err
	}
	return ep, nil
}

func (m *manager) waitInDatapath(ctx context.Context, ep *Endpoint, rev statedb.Revision) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := m.reconciler.WaitUntilReconciled(ctx, rev); err != nil {
		return fmt.Errorf("endpoint %d not in the datapath's endpoints map: %w", ep.ID, err)
	}
	cur, _, ok := m.table.Get(m.db.ReadTxn(), ByID.Query(ep.ID))
	if !ok {
		return fmt.Errorf("endpoint %d vanished while being created", ep.ID)
	}
	if cur.Status.Kind == reconcilers.StatusKindError {
		return fmt.Errorf("endpoint %d: writing the endpoints map failed: %s", ep.ID, cur.Status.Error)
	}
	return nil
}

// del removes the attachment; an attachment hivenet does not know is not an
// error (CNI DEL must be idempotent), but leftovers of it are cleaned up.
func (m *manager) del(ctx context.Context, containerID, ifName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ready {
		return errNotReady
	}
	owner := containerID + "/" + ifName
	ep, _, ok := m.table.Get(m.db.ReadTxn(), ByContainer.Query(owner))
	if !ok {
		hostName := hostIfName(containerID, ifName)
		_ = m.dp.Detach(hostName)
		if err := unwire(hostName); err != nil {
			return err
		}
		return m.ipam.Release(owner)
	}
	return m.remove(ctx, ep)
}

// remove releases everything of an endpoint: datapath links, the veth pair
// (and with it the routes and neighbours through it), the map entry, the
// address, conntrack entries and the state file.
func (m *manager) remove(ctx context.Context, ep *Endpoint) error {
	if err := m.dp.Detach(ep.HostIfName); err != nil && !errors.Is(err, bpf.ErrNotAttached) {
		m.log.Warn("Detaching datapath failed", "interface", ep.HostIfName, "error", err)
	}
	if err := unwire(ep.HostIfName); err != nil {
		return err
	}
	rev, err := m.write(func(wtxn statedb.WriteTxn) error {
		_, _, err := m.table.Delete(wtxn, ep)
		return err
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := m.reconciler.WaitUntilReconciled(wctx, rev); err != nil {
		return fmt.Errorf("endpoint %d: removing its endpoints map entry: %w", ep.ID, err)
	}
	if err := m.ipam.Release(ep.ContainerID + "/" + ep.IfName); err != nil {
		return err
	}
	if err := os.Remove(m.stateFile(ep.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if n, err := m.dp.FlushConntrack(ep.IPv4); err != nil {
		m.log.Warn("Flushing conntrack of removed endpoint failed", "ipv4", ep.IPv4, "error", err)
	} else if n > 0 {
		m.log.Debug("Flushed conntrack of removed endpoint", "ipv4", ep.IPv4, "entries", n)
	}
	m.log.Info("Endpoint deleted", "id", ep.ID, "pod", ep.PodName(), "ipv4", ep.IPv4)
	return nil
}

func (m *manager) check(containerID, ifName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ep, _, ok := m.table.Get(m.db.ReadTxn(), ByContainer.Query(containerID+"/"+ifName))
	if !ok {
		return fmt.Errorf("no endpoint for container %s interface %s", containerID, ifName)
	}
	if ep.Status.Kind != reconcilers.StatusKindDone {
		return fmt.Errorf("endpoint %d is not in the datapath: %s", ep.ID, ep.Status)
	}
	return checkWiring(ep)
}

func (m *manager) write(fn func(statedb.WriteTxn) error) (statedb.Revision, error) {
	wtxn := m.db.WriteTxn(m.table)
	defer wtxn.Abort()
	if err := fn(wtxn); err != nil {
		return 0, err
	}
	rev := m.table.Revision(wtxn)
	wtxn.Commit()
	return rev, nil
}

// freeID returns the lowest endpoint id not in use.
func (m *manager) freeID() (uint16, error) {
	next := uint16(1)
	for ep := range m.table.All(m.db.ReadTxn()) { // ascending by id
		if ep.ID != next {
			break
		}
		if next == maxEndpointID {
			return 0, errors.New("all 65535 endpoint ids are in use")
		}
		next++
	}
	return next, nil
}

func (m *manager) stateFile(id uint16) string {
	return filepath.Join(m.stateDir, strconv.Itoa(int(id))+".json")
}

func (m *manager) persist(ep *Endpoint) error {
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return err
	}
	if err := statedir.WriteFileAtomic(m.stateFile(ep.ID), b); err != nil {
		return fmt.Errorf("persist endpoint %d: %w", ep.ID, err)
	}
	return nil
}

// restore reads the endpoints of the previous run from the state directory.
// An endpoint whose node-side interface still exists is kept (its programs
// re-attached, adopting the pinned links); one whose pod went away while the
// agent was down is released. The table is initialised afterwards, which
// lets the endpoints map reconciler prune what no endpoint asks for.
func (m *manager) restore(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	entries, err := os.ReadDir(m.stateDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", m.stateDir, err)
	}
	var restored []*Endpoint
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(m.stateDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		var ep Endpoint
		if err := json.Unmarshal(b, &ep); err != nil {
			m.log.Error("Ignoring unreadable endpoint state file", "path", path, "error", err)
			continue
		}
		if err := checkWiring(&ep); err != nil {
			m.log.Warn("Not restoring endpoint whose interfaces are gone", "id", ep.ID, "pod", ep.PodName(), "reason", err)
			_ = unwire(ep.HostIfName)
			_ = m.ipam.Release(ep.ContainerID + "/" + ep.IfName)
			_ = os.Remove(path)
			continue
		}
		if _, err := m.dp.Attach(ep.HostIfName); err != nil {
			return fmt.Errorf("re-attach datapath to restored endpoint %d (%s): %w", ep.ID, ep.HostIfName, err)
		}
		ep.Status = reconcilers.StatusPending()
		restored = append(restored, &ep)
	}
	wtxn := m.db.WriteTxn(m.table)
	defer wtxn.Abort()
	for _, ep := range restored {
		if _, _, err := m.table.Insert(wtxn, ep); err != nil {
			return err
		}
	}
	m.initDone(wtxn)
	wtxn.Commit()
	m.ready = true
	m.log.Info("Endpoints restored", "count", len(restored))
	return nil
}
