// Package cmd composes the hivenet agent: which cells it runs (Agent) and its
// command line (Command).
package cmd
