package ipam_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/cells/statedir"
	"github.com/hivenet/hivenet/statedb"
)

// startIPAM runs the IPAM cell in a hive with the given flags and returns it
// with a stop function.
func startIPAM(t *testing.T, args ...string) (ipam.IPAM, statedb.Table[*ipam.Allocation], *statedb.DB, func()) {
	t.Helper()
	var (
		m   ipam.IPAM
		tbl statedb.Table[*ipam.Allocation]
		db  *statedb.DB
	)
	h := cell.New(statedb.Cell, statedir.Cell, ipam.Cell,
		cell.Invoke(func(i ipam.IPAM, t statedb.Table[*ipam.Allocation], d *statedb.DB) { m, tbl, db = i, t, d }))
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, tbl, db, func() {
		if err := h.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

func TestAllocateExhaustReleaseRestore(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--state-dir=" + dir, "--ipv4-range=10.9.0.0/29"}
	m, tbl, db, stop := startIPAM(t, args...)

	if got := m.Router(); got != netip.MustParseAddr("10.9.0.1") {
		t.Fatalf("router = %s, want 10.9.0.1", got)
	}
	// A /29 has 8 addresses: network, router and broadcast leave 5.
	var got []string
	for i := range 5 {
		ip, err := m.Allocate(fmt.Sprintf("c%d/eth0", i), "default/p")
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, ip.String())
	}
	if want := "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6"; strings.Join(got, " ") != want {
		t.Fatalf("allocated %v, want %s", got, want)
	}
	// The same owner asking again gets the same address.
	if ip, err := m.Allocate("c2/eth0", "default/p"); err != nil || ip.String() != "10.9.0.4" {
		t.Fatalf("second allocate for same owner = %s, %v", ip, err)
	}
	_, err := m.Allocate("c-full/eth0", "default/p")
	if !errors.Is(err, ipam.ErrPoolExhausted) || !strings.Contains(err.Error(), "10.9.0.0/29") {
		t.Fatalf("full pool: %v, want ErrPoolExhausted naming the range", err)
	}
	if err := m.Release("c1/eth0"); err != nil {
		t.Fatal(err)
	}
	if err := m.Release("never-allocated"); err != nil {
		t.Fatalf("releasing nothing: %v", err)
	}
	if ip, err := m.Allocate("c-new/eth0", "default/q"); err != nil || ip.String() != "10.9.0.3" {
		t.Fatalf("after release: %s, %v; want the freed 10.9.0.3", ip, err)
	}
	if n := tbl.NumObjects(db.ReadTxn()); n != 5 {
		t.Fatalf("table has %d allocations, want 5", n)
	}
	stop()

	// A restarted agent keeps every allocation.
	m, tbl, db, stop = startIPAM(t, args...)
	defer stop()
	if init, _ := tbl.Initialized(db.ReadTxn()); !init {
		t.Fatal("table not initialised after start")
	}
	if n := tbl.NumObjects(db.ReadTxn()); n != 5 {
		t.Fatalf("restored %d allocations, want 5", n)
	}
	a, _, ok := tbl.Get(db.ReadTxn(), ipam.ByOwner.Query("c-new/eth0"))
	if !ok || a.IP.String() != "10.9.0.3" || a.Pod != "default/q" {
		t.Fatalf("restored c-new = %+v, %v", a, ok)
	}
	if _, err := m.Allocate("c-more/eth0", ""); !errors.Is(err, ipam.ErrPoolExhausted) {
		t.Fatalf("restored pool should be full, got %v", err)
	}
}

func TestRestoreDropsAddressesOutsideNewRange(t *testing.T) {
	dir := t.TempDir()
	m, _, _, stop := startIPAM(t, "--state-dir="+dir, "--ipv4-range=10.9.0.0/29")
	if _, err := m.Allocate("a/eth0", ""); err != nil {
		t.Fatal(err)
	}
	stop()
	_, tbl, db, stop := startIPAM(t, "--state-dir="+dir, "--ipv4-range=10.10.0.0/24")
	defer stop()
	if n := tbl.NumObjects(db.ReadTxn()); n != 0 {
		t.Fatalf("%d allocations kept outside the new range", n)
	}
}

func TestBadStateFileFailsStartWithPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ipam.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := cell.New(statedb.Cell, statedir.Cell, ipam.Cell, cell.Invoke(func(ipam.IPAM) {}))
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	_ = fs.Parse([]string{"--state-dir=" + dir})
	err := h.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ipam.json") || !strings.Contains(err.Error(), `module "ipam"`) {
		t.Fatalf("start = %v, want an error naming the file and module", err)
	}
}

func TestRangeValidation(t *testing.T) {
	for _, bad := range []string{"10.0.0.0", "10.0.0.1/24", "fd00::/64", "10.0.0.0/31", "banana"} {
		err := ipam.Config{IPv4Range: bad}.Validate()
		if err == nil || !strings.Contains(err.Error(), "--ipv4-range") {
			t.Errorf("%q: %v, want an error naming --ipv4-range", bad, err)
		}
	}
}
