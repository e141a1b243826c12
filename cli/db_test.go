package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

type route struct {
	Prefix string
	Via    string
}

func (r *route) TableHeader() []string { return []string{"Prefix", "Via"} }
func (r *route) TableRow() []string    { return []string{r.Prefix, r.Via} }

// serveDB serves a real statedb HTTP handler on a unix socket, the way the
// agent's API server mounts it.
func serveDB(t *testing.T, db *statedb.DB) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h := statedb.NewHTTPHandler(db)
	mux.Handle("GET /v1/db", h)
	mux.Handle("GET /v1/db/{table}", h)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return sock
}

func TestDBListAndShow(t *testing.T) {
	db := statedb.New()
	routes := statedb.MustNewTable("routes", statedb.Index[*route, string]{
		Name:       "prefix",
		FromObject: func(r *route) index.KeySet { return index.NewKeySet(index.String(r.Prefix)) },
		FromKey:    index.String,
		Unique:     true,
	})
	if err := db.RegisterTable(routes); err != nil {
		t.Fatal(err)
	}
	wtxn := db.WriteTxn(routes)
	routes.RegisterInitializer(wtxn, "k8s-nodes")
	routes.Insert(wtxn, &route{Prefix: "10.0.1.0/24", Via: "192.168.0.2"})
	routes.Insert(wtxn, &route{Prefix: "10.0.2.0/24", Via: "192.168.0.3"})
	wtxn.Commit()
	sock := serveDB(t, db)

	out, err := runCLI(t, "-s", sock, "db", "list")
	if err != nil {
		t.Fatalf("db list: %v", err)
	}
	for _, want := range []string{"NAME", "routes", "2 ", "no (waiting for k8s-nodes)"} {
		if !strings.Contains(out, want) {
			t.Errorf("db list output lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, "-s", sock, "db", "show", "routes")
	if err != nil {
		t.Fatalf("db show: %v", err)
	}
	want := "Prefix        Via\n10.0.1.0/24   192.168.0.2\n10.0.2.0/24   192.168.0.3\n"
	if out != want {
		t.Fatalf("db show routes =\n%q\nwant\n%q", out, want)
	}

	out, err = runCLI(t, "-s", sock, "db", "show", "routes", "-o", "json")
	if err != nil || !strings.Contains(out, `"Via": "192.168.0.3"`) {
		t.Fatalf("db show -o json: %v\n%s", err, out)
	}

	out, err = runCLI(t, "-s", sock, "db", "show", "routes", "--key", "10.0.2.0/24")
	if err != nil || out != "Prefix        Via\n10.0.2.0/24   192.168.0.3\n" {
		t.Fatalf("db show --key: %v\n%q", err, out)
	}
	_, err = runCLI(t, "-s", sock, "db", "show", "routes", "--index", "via", "--key", "x")
	if err == nil || !strings.Contains(err.Error(), `has no index "via"`) {
		t.Fatalf("db show --index via: err = %v", err)
	}

	_, err = runCLI(t, "-s", sock, "db", "show", "nope")
	if err == nil || !strings.Contains(err.Error(), `no table "nope"; tables are: routes`) {
		t.Fatalf("db show nope: err = %v", err)
	}
	if strings.Contains(fmt.Sprint(err), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}

	_, err = runCLI(t, "-s", filepath.Join(t.TempDir(), "none.sock"), "db", "list")
	if !errors.Is(err, errAgentUnreachable) {
		t.Fatalf("db list without agent: err = %v", err)
	}
}
