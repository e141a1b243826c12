package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/cells/cell"
)

// kernelCell checks, once at start, that the kernel can run hivenet's datapath
// and reports what it found as the module's health. The datapath needs BPF
// programs of type sched_cls and hash/LPM/LRU maps; TCX links (Linux 6.6) are
// preferred and clsact is the fallback, so their absence is not an error.
var kernelCell = cell.Module("kernel", "Checks the kernel's BPF support at start",
	cell.Invoke(func(jobs cell.Jobs, log *slog.Logger) {
		jobs.Add(cell.OneShot("probe", func(ctx context.Context, h cell.Health) error {
			summary, err := probeKernel()
			if err != nil {
				return err
			}
			log.Info("Kernel supports the datapath", "summary", summary)
			h.OK(summary)
			return nil
		}))
	}),
)

func probeKernel() (string, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	release := unix.ByteSliceToString(uts.Release[:])
	var missing []string
	if err := features.HaveProgramType(ebpf.SchedCLS); err != nil {
		missing = append(missing, "sched_cls programs: "+err.Error())
	}
	for _, mt := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.LPMTrie, ebpf.RingBuf} {
		if err := features.HaveMapType(mt); err != nil {
			missing = append(missing, mt.String()+" maps: "+err.Error())
		}
	}
	if len(missing) > 0 {
		return "", errors.New("kernel " + release + " lacks " + strings.Join(missing, "; ") + " (needs Linux 5.8+ with BPF enabled, run as root or with CAP_BPF+CAP_NET_ADMIN)")
	}
	// TCX links came with Linux 6.6; cilium/ebpf has no probe for them, and
	// attaching a real program just to find out is the datapath's job.
	attach := "TCX"
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err == nil && (major < 6 || major == 6 && minor < 6) {
		attach = "clsact (no TCX before 6.6)"
	}
	return "kernel " + release + ", BPF ok, attach via " + attach, nil
}
