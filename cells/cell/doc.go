// Package cell is hivenet's application framework: it composes a process out of
// modules ("cells") on top of go.uber.org/fx.
//
// A feature author writes constructors and declares them with Provide, Invoke and
// Config inside a Module. The framework gives every module, without further wiring:
//
//   - a *slog.Logger that tags every line with the module id;
//   - a Health scope (OK / Degraded / Stopped) aggregated into one view for the
//     agent's API;
//   - a Lifecycle whose start hooks run in dependency order and stop hooks in
//     reverse, where a failing start unwinds what already started and names the
//     module that failed;
//   - Jobs (one-shot with retry, timers with triggers, observers of a stream) that
//     start with the lifecycle, report health and stop on shutdown.
//
// Configuration is a struct per module whose fields become pflag flags; values come
// from the command line or from a config directory with one file per key, the way a
// mounted ConfigMap looks. Feature wraps a feature's cells behind an enable-... flag,
// so that a disabled feature constructs nothing and starts nothing.
//
// A Hive is built from cells, registers their flags, then Populate constructs the
// object graph, Start runs the start hooks, and Stop runs the stop hooks.
package cell
