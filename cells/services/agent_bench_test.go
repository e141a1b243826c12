package services

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/hivenet/hivenet/statedb"
)

// BenchmarkAgentControlPlane is BenchmarkControlPlane end to end: a real
// agent process watching a real API server, 10k Services with an
// EndpointSlice of 10 endpoints each created through the API (16 writers),
// until every frontend is in the agent's maps. It reports services/s from
// the first create to the last frontend done (the API server's write rate
// bounds it), the lag between the last create and the last frontend done,
// and the agent's RSS after.
func BenchmarkAgentControlPlane(b *testing.B) {
	const services, perService, writers = 10000, 10, 16
	for range b.N {
		n := newE2ENode(b, "--bpf-lb-map-max", "262144")
		cfg := n.cp.RESTConfig()
		cfg.QPS, cfg.Burst = 5000, 5000
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < services; i += writers {
					if err := createBenchService(cs, i, perService); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		created := time.Now()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			var tables []statedb.TableInfo
			if err := n.getJSON("/v1/db", &tables); err == nil && frontendsDone(n, tables, services) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("frontends not all in the maps 5 minutes after the last create")
			}
			time.Sleep(200 * time.Millisecond)
		}
		done := time.Now()
		b.StopTimer()
		b.ReportMetric(float64(services)/done.Sub(start).Seconds(), "services/s")
		b.ReportMetric(done.Sub(created).Seconds(), "lag-s")
		b.ReportMetric(float64(pidRSSKiB(n.agent.Process.Pid))/1024, "agent-RSS-MiB")
		n.stopAgent()
	}
}

func createBenchService(cs *kubernetes.Clientset, i, perService int) error {
	ctx := context.Background()
	name := "bench-" + strconv.Itoa(i)
	_, err := cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{
			discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "hvsv-bench"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr[int32](8080), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	for j := range perService {
		ip := netip.AddrFrom4([4]byte{10, byte(100 + j), byte(i >> 8), byte(i)})
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpoint slice %s: %w", name, err)
	}
	return nil
}

// frontendsDone reports whether the agent has want frontends, all in the
// maps. The table listing is cheap; the full one only runs once the count
// is reached.
func frontendsDone(n *e2eNode, tables []statedb.TableInfo, want int) bool {
	for _, t := range tables {
		if t.Name != FrontendsTableName || t.Objects < want {
			continue
		}
		var es []ServiceEntry
		if err := n.getJSON("/v1/services", &es); err != nil {
			return false
		}
		done := 0
		for _, e := range es {
			if e.Status == "done" && len(e.Backends) > 0 {
				done++
			}
		}
		return done >= want
	}
	return false
}

func pidRSSKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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
