package routing

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	vnl "github.com/vishvananda/netlink"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/statedb"
)

// syncer keeps the routes and tunnel-peers tables equal to Desired over the
// nodes table and, in tunnel mode, the device's MAC equal to this node's
// VTEP MAC.
type syncer struct {
	mode      string
	db        *statedb.DB
	nodes     statedb.Table[*nodes.Node]
	routes    statedb.RWTable[*Route]
	peers     statedb.RWTable[*Peer]
	initRoute func(statedb.WriteTxn)
	initPeer  func(statedb.WriteTxn)
	h         *vnl.Handle
	log       *slog.Logger
}

func (s *syncer) run(ctx context.Context, health cell.Health) error {
	initialised := false
	for {
		txn := s.db.ReadTxn()
		it, watch := s.nodes.AllWatch(txn)
		var all []*nodes.Node
		var local *nodes.Node
		for n := range it {
			all = append(all, n)
			if n.Local {
				local = n
			}
		}
		ready, readyWatch := s.nodes.Initialized(txn)
		routes, peers := Desired(s.mode, all)

		var retry <-chan time.Time
		msg := fmt.Sprintf("%d routes to %d nodes", len(routes), len(all)-1)
		if s.mode == ModeTunnel {
			switch {
			case local == nil || !local.InternalIP.Is4():
				msg = "waiting for this node's internal IP"
			default:
				if err := setDeviceMAC(s.h, VTEPMAC(local.InternalIP)); err != nil {
					health.Degraded("tunnel device", err)
					retry = time.After(time.Second)
				}
			}
		}

		wtxn := s.db.WriteTxn(s.routes, s.peers)
		nr, err1 := syncTable(wtxn, s.routes, routes, RouteByDst.QueryFromObject, (*Route).sameAs)
		np, err2 := syncTable(wtxn, s.peers, peers, PeerByIP.QueryFromObject, (*Peer).sameAs)
		if err1 != nil || err2 != nil {
			wtxn.Abort()
			return fmt.Errorf("write desired routes: %v %v", err1, err2)
		}
		if ready && !initialised {
			s.initRoute(wtxn)
			s.initPeer(wtxn)
			initialised = true
		}
		wtxn.Commit()
		if nr+np > 0 {
			s.log.Info("Routes to other nodes changed", "routes", len(routes), "peers", len(peers), "changed", nr+np)
		}
		if err := contested(all); err != nil {
			health.Degraded("routes left out", err)
		} else if retry == nil {
			health.OK(msg)
		}

		if initialised {
			readyWatch = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		case <-readyWatch:
		case <-retry:
		}
	}
}

// desiredRow is a row of the routes or tunnel-peers table.
type desiredRow interface {
	primaryKey() string
	// markPending sets the pending status on a row not inserted yet.
	markPending()
}

// syncTable makes tbl hold exactly want, leaving rows that are the same as
// wanted (and so their reconciliation status) untouched. New and changed
// rows are inserted with a pending status. It returns how many rows it
// inserted or deleted.
func syncTable[T desiredRow](wtxn statedb.WriteTxn, tbl statedb.RWTable[T], want []T, query func(T) statedb.Query[T], same func(T, T) bool) (int, error) {
	changed := 0
	keep := map[string]struct{}{}
	for _, w := range want {
		keep[w.primaryKey()] = struct{}{}
		if old, _, ok := tbl.Get(wtxn, query(w)); ok && same(old, w) {
			continue
		}
		w.markPending()
		if _, _, err := tbl.Insert(wtxn, w); err != nil {
			return changed, err
		}
		changed++
	}
	var gone []T
	for old := range tbl.All(wtxn) {
		if _, ok := keep[old.primaryKey()]; !ok {
			gone = append(gone, old)
		}
	}
	for _, old := range gone {
		if _, _, err := tbl.Delete(wtxn, old); err != nil {
			return changed, err
		}
		changed++
	}
	return changed, nil
}
