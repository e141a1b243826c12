package cell

import "testing"

func TestKebab(t *testing.T) {
	for in, want := range map[string]string{
		"EnableL2Announcements": "enable-l2-announcements",
		"BPFRoot":               "bpf-root",
		"KubeProxyReplacement":  "kube-proxy-replacement",
		"MTU":                   "mtu",
		"BPFCTGlobalTCPMax":     "bpfct-global-tcp-max", // ambiguous acronyms need a flag tag
		"SocketPath":            "socket-path",
	} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%q) = %q, want %q", in, got, want)
		}
	}
}
