package services_test

import (
	"fmt"
	"net/netip"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/services"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
)

// The frontends table is what `hivenet service list` prints: here one
// ClusterIP frontend with two backends, as the services cell derives it
// from a Service and its EndpointSlice.
func ExampleEntries() {
	db := statedb.New()
	tables, err := services.NewTables(db)
	if err != nil {
		panic(err)
	}
	addr := func(s string, port uint16) services.L3n4Addr {
		return services.L3n4Addr{Addr: netip.MustParseAddr(s), Port: port, Proto: bpf.ProtoTCP}
	}
	wtxn := db.WriteTxn(tables.Frontends)
	tables.Frontends.Insert(wtxn, &services.Frontend{
		Address:     addr("10.96.0.10", 80),
		Type:        services.SVCTypeClusterIP,
		ServiceName: services.ServiceName{Namespace: "default", Name: "server"},
		ID:          1,
		Backends: []services.FrontendBackend{
			{ID: 1, Address: addr("10.0.1.5", 8080), State: services.BackendStateActive},
			{ID: 2, Address: addr("10.0.1.6", 8080), State: services.BackendStateTerminating},
		},
		Status: reconcilers.StatusDone(),
	})
	txn := wtxn.Commit()

	for _, e := range services.Entries(txn, tables.Frontends) {
		fmt.Println(e.ID, e.Frontend, e.Type, e.Service, e.Status)
		for i, b := range e.Backends {
			fmt.Printf("  %d => %s\n", i+1, b)
		}
	}
	// Output:
	// 1 10.96.0.10:80/TCP ClusterIP default/server done
	//   1 => 10.0.1.5:8080/TCP (active)
	//   2 => 10.0.1.6:8080/TCP (terminating)
}
