// Package api serves a process's HTTP API: the agent's on a unix socket (what
// the hivenet CLI and the CNI plugin talk to), the operator's on a TCP address.
//
// Cells contribute endpoints by providing Handler values into the "api-handlers"
// value group (see HandlerOut); the server mounts them all when it starts. The
// server itself always serves GET /v1/healthz and GET /v1/status from the hive's
// health, and GET /metrics in Prometheus form from the collectors cells put in
// the "prometheus-collectors" value group (see CollectorOut).
package api
