package nodes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/hivenet/hivenet/cells/cell"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/statedb"
)

// syncer keeps the nodes table equal to Derive over the two input tables.
// It recomputes every row on each change: a cluster has at most thousands
// of nodes that change rarely, and a full pass cannot miss a deletion.
type syncer struct {
	db          *statedb.DB
	table       statedb.RWTable[*Node]
	k8sNodes    statedb.Table[*corev1.Node]
	ciliumNodes statedb.Table[*v2.CiliumNode]
	local       string
	init        func(statedb.WriteTxn)
}

// Desired derives the rows for the given inputs, by node name.
func Desired(k8sNodes []*corev1.Node, ciliumNodes []*v2.CiliumNode, local string) map[string]*Node {
	cns := make(map[string]*v2.CiliumNode, len(ciliumNodes))
	for _, cn := range ciliumNodes {
		cns[cn.Name] = cn
	}
	out := make(map[string]*Node, len(k8sNodes)+len(ciliumNodes))
	for _, n := range k8sNodes {
		out[n.Name] = Derive(n, cns[n.Name], local)
	}
	for _, cn := range ciliumNodes {
		if _, ok := out[cn.Name]; !ok {
			out[cn.Name] = Derive(nil, cn, local)
		}
	}
	return out
}

func (s *syncer) run(ctx context.Context, h cell.Health) error {
	initialised := false
	for {
		txn := s.db.ReadTxn()
		nodesIter, nodesWatch := s.k8sNodes.AllWatch(txn)
		cnIter, cnWatch := s.ciliumNodes.AllWatch(txn)
		var ns []*corev1.Node
		for n := range nodesIter {
			ns = append(ns, n)
		}
		var cns []*v2.CiliumNode
		for cn := range cnIter {
			cns = append(cns, cn)
		}
		desired := Desired(ns, cns, s.local)
		nInit, nInitWatch := s.k8sNodes.Initialized(txn)
		cInit, cInitWatch := s.ciliumNodes.Initialized(txn)

		wtxn := s.db.WriteTxn(s.table)
		if err := s.apply(wtxn, desired); err != nil {
			wtxn.Abort()
			return err
		}
		if !initialised && nInit && cInit {
			s.init(wtxn)
			initialised = true
		}
		wtxn.Commit()
		h.OK(fmt.Sprintf("%d nodes", len(desired)))

		var initWatch <-chan struct{}
		if !initialised {
			initWatch = nInitWatch
			if nInit {
				initWatch = cInitWatch
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-nodesWatch:
		case <-cnWatch:
		case <-initWatch:
		}
	}
}

func (s *syncer) apply(wtxn statedb.WriteTxn, desired map[string]*Node) error {
	var gone []*Node
	for old := range s.table.All(wtxn) {
		if _, ok := desired[old.Name]; !ok {
			gone = append(gone, old)
		}
	}
	for _, old := range gone {
		if _, _, err := s.table.Delete(wtxn, old); err != nil {
			return err
		}
	}
	for name, n := range desired {
		if old, _, ok := s.table.Get(wtxn, ByName.Query(name)); ok && old.Equal(n) {
			continue
		}
		if _, _, err := s.table.Insert(wtxn, n); err != nil {
			return err
		}
	}
	return nil
}
