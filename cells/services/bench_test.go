package services

import (
	"fmt"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hivenet/hivenet/bpf"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// BenchmarkControlPlane applies 10k Services with 10 ready endpoints each
// (one EndpointSlice per Service) to the k8s tables, as the reflectors
// would after listing them, and measures the time until every frontend is
// in the BPF maps: derivation, id allocation, and the reconciler's writes
// into the real pinned maps. It reports services/s and the process's RSS
// afterwards (the agent's own share of it: the test binary's baseline is
// reported too).
func BenchmarkControlPlane(b *testing.B) {
	const services, perService = 10000, 10
	svcs := make([]*corev1.Service, services)
	eps := make([]*discoveryv1.EndpointSlice, services)
	for i := range services {
		name := "svc-" + strconv.Itoa(i)
		ip := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)}).String()
		svcs[i] = testService(name, func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = ip, []string{ip} })
		var ready []testEP
		for j := range perService {
			ready = append(ready, ready4(i, j))
		}
		eps[i] = testSlice(name, name+"-1", 8080, ready...)
	}
	// RSS is measured after returning freed memory to the kernel, so it
	// counts what the tables hold, not garbage the runtime kept.
	debug.FreeOSMemory()
	base := rssKiB()
	var rss int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		l := startTestLB(b, bpf.MapPinPath(bpfRoot(b), ""), false)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		l.apply(svcs, eps)
		l.waitReconciledTimeout(services, 5*time.Minute)
		b.ReportMetric(float64(services)/time.Since(start).Seconds(), "services/s")
		// The machine is shared: CPU time is the figure other load does
		// not blur.
		b.ReportMetric(float64(services)/(cpuTime()-cpu0).Seconds(), "services/cpu-s")
		b.StopTimer()
		debug.FreeOSMemory()
		rss = rssKiB()
		l.stop()
	}
	b.ReportMetric(float64(rss)/1024, "RSS-MiB")
	b.ReportMetric(float64(rss-base)/1024, "RSS-growth-MiB")
}

func ready4(i, j int) testEP {
	return ready(fmt.Sprintf("10.%d.%d.%d", 1+j, byte(i>>8), byte(i)), "n1")
}

func bpfRoot(tb testing.TB) string { return newTestPinDir(tb) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}
