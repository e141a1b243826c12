// Package endpoints is the endpoints cell: it wires pods to the node when the
// CNI plugin asks (a veth pair, the pod's address and routes, the datapath
// programs on the node side) and keeps the endpoints table, which the rest of
// the agent reads to know which pod owns which address and interface.
package endpoints
