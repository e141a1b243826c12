package bpf

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedBindingsUpToDate regenerates the bindings as `go generate`
// would, into a temporary directory, and fails if the committed ones differ:
// the C sources changed without `go generate ./bpf/...`, or the output is not
// deterministic. It needs clang-19 and llvm-strip-19.
func TestGeneratedBindingsUpToDate(t *testing.T) {
	src, err := os.ReadFile("gen.go")
	must(t, err)
	const directive = "//go:generate go tool bpf2go "
	var directives [][]string
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, directive); ok {
			directives = append(directives, strings.Fields(rest))
		}
	}
	if directives == nil {
		t.Fatal("no bpf2go directive in gen.go")
	}
	for _, args := range directives {
		// The stem is the first argument that is not a flag or a flag's value.
		stem := ""
		for i := 0; i < len(args); i++ {
			if strings.HasPrefix(args[i], "-") {
				i++
				continue
			}
			stem = args[i]
			break
		}
		out := t.TempDir()
		cmd := exec.Command("go", append([]string{"tool", "bpf2go", "-output-dir", out}, args...)...)
		cmd.Env = append(os.Environ(), "GOPACKAGE=bpf", "GOFILE=gen.go")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bpf2go %s: %v\n%s", stem, err, msg)
		}
		for _, name := range []string{stem + "_bpfel.go", stem + "_bpfel.o"} {
			fresh, err := os.ReadFile(filepath.Join(out, name))
			must(t, err)
			committed, err := os.ReadFile(name)
			must(t, err)
			if !bytes.Equal(fresh, committed) {
				t.Errorf("%s is stale: run go generate ./bpf/... and commit the result", name)
			}
		}
	}
}

// TestMapSpecs checks the constants Go code relies on against the object.
func TestMapSpecs(t *testing.T) {
	spec, err := loadLxc()
	must(t, err)
	if got := spec.Maps[MapEndpoints].MaxEntries; got != EndpointsMapSize {
		t.Errorf("%s has %d entries, EndpointsMapSize is %d", MapEndpoints, got, EndpointsMapSize)
	}
	for name, size := range map[string]uint32{
		MapCT4Global:    uint32(binary.Size(CTKey{})),
		MapCTAny4Global: uint32(binary.Size(CTKey{})),
		MapEndpoints:    uint32(binary.Size(EndpointKey{})),
	} {
		if got := spec.Maps[name].KeySize; got != size {
			t.Errorf("%s key is %d bytes, the Go type %d", name, got, size)
		}
	}
	if got := spec.Maps[MapCT4Global].ValueSize; got != uint32(binary.Size(CTEntry{})) || got != 56 {
		t.Errorf("ct_entry is %d bytes, want 56 as Cilium's", got)
	}
	if got := spec.Maps[MapEndpoints].ValueSize; got != 48 {
		t.Errorf("endpoint_info is %d bytes, want 48 as Cilium's", got)
	}
	if FlowEventSize != 56 {
		t.Errorf("FlowEventSize %d", FlowEventSize)
	}
}
