package main

import (
	"strings"
	"testing"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/services"
)

func TestPrintServices(t *testing.T) {
	var b strings.Builder
	printServices(&b, []services.ServiceEntry{
		{ID: 1, Frontend: "10.96.0.10:80/TCP", Type: services.SVCTypeClusterIP, Backends: []string{"10.0.1.5:8080/TCP (active)", "10.0.1.6:8080/TCP (terminating)"}},
		{ID: 2, Frontend: "0.0.0.0:30080/TCP", Type: services.SVCTypeNodePort},
	})
	want := `ID   Frontend            Service Type   Backend
1    10.96.0.10:80/TCP   ClusterIP      1 => 10.0.1.5:8080/TCP (active)
                                        2 => 10.0.1.6:8080/TCP (terminating)
2    0.0.0.0:30080/TCP   NodePort       
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintLB(t *testing.T) {
	var b strings.Builder
	printLB(&b, []bpf.LBEntry{
		{Frontend: "10.96.0.10:80/TCP", ID: 7, Backends: []bpf.LBSlot{
			{Slot: 1, ID: 3, Address: "10.0.1.5:8080/TCP", State: "active"},
			{Slot: 2, ID: 9},
		}},
		{Frontend: "0.0.0.0:30080/TCP", ID: 8, Flags: bpf.SvcFlagNodePort | bpf.SvcFlagExtLocalScope},
	})
	for _, want := range []string{
		"SERVICE ADDRESS",
		"10.96.0.10:80/TCP (7)   0.0.0.0:0 (7) (0) [ClusterIP]",
		"10.0.1.5:8080/TCP (7) (1) [active]",
		"backend 9 missing (7) (2)",
		"0.0.0.0:30080/TCP (8)   0.0.0.0:0 (8) (0) [NodePort, Local]",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
