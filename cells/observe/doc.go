// Package observe is the observe cell: it reads the datapath's flow events,
// names their endpoints from the endpoints table (namespace, pod, labels,
// identity), keeps the most recent ones in a bounded ring, and serves them
// on the agent API to `hivenet observe`:
//
//   - GET /v1/flows?last=N&follow=1&<filters>: one JSON object per line
//     (Hubble's GetFlowsResponse, see package flow); with follow the stream
//     stays open and carries new flows until the client goes away;
//   - GET /v1/flows/status: the buffer's fill, flows seen, flows/s, lost
//     events and uptime.
//
// Flows come from a [FlowSource]: [NewDatapathSource] in the agent, any
// [cell.Observable] of bpf.Flow in tests. The ring's size is Cilium's
// --hubble-event-buffer-capacity.
//
// Errors: [ErrBadCapacity] for a ring capacity that is not 2^n-1.
package observe
