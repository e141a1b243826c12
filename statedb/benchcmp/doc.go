// Package benchcmp runs the same statedb workloads on hivenet's statedb
// (./hivenet) and on github.com/cilium/statedb (./cilium), so their figures
// can be compared one to one:
//
//	cd statedb/benchcmp
//	go test -run - -bench . -count 6 ./hivenet ./cilium
//
// The workloads live in hivenet/workloads_test.go; cilium/workloads_test.go
// is generated from it by `go generate ./...` (only the import path
// differs). Each package's setup_test.go builds the DB and table the way
// its library wants. This is its own module so the main module does not
// depend on cilium/statedb.
package benchcmp
