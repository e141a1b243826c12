// Package flow is the form in which the agent hands flows to its clients: the
// JSON of Hubble's GetFlowsResponse (one object per line of GET /v1/flows),
// the compact one-line rendering `hubble observe` prints, and the filter
// parameters of a flow query.
//
// It is separate from the observe cell so that the CLI can decode, filter and
// print flows without linking the agent's state database.
//
// Field names and enum spellings follow Hubble's flow.proto JSON mapping
// (UseProtoNames), so tools that read `hubble observe -o json` read ours.
package flow
