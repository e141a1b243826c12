package cell

import (
	"fmt"
	"io"
	"strings"
)

// Info describes a cell for introspection: what a module provides, invokes and
// which flags it declares.
type Info struct {
	Kind     string   `json:"kind"` // module, provide, provide-private, invoke, decorate, config, feature, group
	ID       string   `json:"id,omitempty"`
	Title    string   `json:"title,omitempty"`
	Funcs    []string `json:"funcs,omitempty"`
	Outputs  []string `json:"outputs,omitempty"`
	Flags    []string `json:"flags,omitempty"`
	Enabled  *bool    `json:"enabled,omitempty"`
	Children []Info   `json:"children,omitempty"`
}

// Info describes the hive's cells as a tree.
func (h *Hive) Info() Info {
	inf := Info{Kind: "hive"}
	for _, c := range h.cells {
		inf.Children = append(inf.Children, c.info(h))
	}
	return inf
}

// Print writes the tree in an indented, human-readable form.
func (i Info) Print(w io.Writer) { i.print(w, 0) }

func (i Info) print(w io.Writer, depth int) {
	ind := strings.Repeat("  ", depth)
	next := depth + 1
	switch i.Kind {
	case "hive":
		next = depth
	case "group":
		next = depth
	case "module":
		fmt.Fprintf(w, "%sⓂ️ %s: %s\n", ind, i.ID, i.Title)
	case "feature":
		state := "disabled"
		if i.Enabled != nil && *i.Enabled {
			state = "enabled"
		}
		fmt.Fprintf(w, "%s⚑ feature --%s (%s)\n", ind, i.ID, state)
	case "config":
		fmt.Fprintf(w, "%s⚙️ config %s: --%s\n", ind, strings.Join(i.Outputs, ", "), strings.Join(i.Flags, ", --"))
	case "invoke":
		for _, f := range i.Funcs {
			fmt.Fprintf(w, "%s🛠️ invoke %s\n", ind, f)
		}
	case "decorate":
		fmt.Fprintf(w, "%s🔀 decorate %s\n", ind, strings.Join(i.Funcs, ", "))
	default: // provide, provide-private
		label := "provide"
		if i.Kind == "provide-private" {
			label = "provide (private)"
		}
		for _, f := range i.Funcs {
			fmt.Fprintf(w, "%s🚧 %s %s\n", ind, label, f)
		}
		if len(i.Outputs) > 0 {
			fmt.Fprintf(w, "%s   ⇨ %s\n", ind, strings.Join(i.Outputs, ", "))
		}
	}
	for _, c := range i.Children {
		c.print(w, next)
	}
}
