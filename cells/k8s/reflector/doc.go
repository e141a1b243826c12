// Package reflector fills statedb tables from the Kubernetes API with
// list+watch.
//
// A Reflector lists a resource, writes the listing into its table and marks
// the table's initializer done in the same transaction, so readers (and
// reconcilers that prune) never see a partial view as complete. It then
// follows the watch, batching events into write transactions.
//
// When the watch breaks (API server restart, network loss) the underlying
// client-go reflector resumes from the last resource version; when that
// version is too old (410 Gone) it relists. A relist is reconciled against
// the table in one transaction: changed objects are updated, objects that
// vanished are deleted, and everything else stays untouched, so rows are
// never dropped and re-added and nothing is lost while the API is away.
package reflector
