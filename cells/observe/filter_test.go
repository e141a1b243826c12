package observe

import (
	"strings"
	"testing"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/observe/flow"
)

func TestFilters(t *testing.T) {
	flows := map[string]bpf.Flow{
		"syn": synFlow, "synack": synAckFlow, "drop": dropFlow, "udp": udpWorldFlow, "ping": pingFlow, "host": hostFlow,
	}
	for _, tc := range []struct {
		name   string
		filter flow.Filter
		want   string // names of the matching flows, sorted, space separated
	}{
		{"none", flow.Filter{}, "drop host ping syn synack udp"},
		{"from-pod prefix", flow.Filter{FromPod: []string{"default/client"}}, "drop syn"},
		{"from-pod default namespace", flow.Filter{FromPod: []string{"client-cb"}}, "drop syn"},
		{"to-pod", flow.Filter{ToPod: []string{"default/server-745fb"}}, "host syn"},
		{"pod either side", flow.Filter{Pod: []string{"prod/db"}}, "drop ping"},
		{"pod namespace only", flow.Filter{Pod: []string{"prod/"}}, "drop ping"},
		{"pods OR", flow.Filter{FromPod: []string{"prod/", "default/server"}}, "ping synack udp"},
		{"pod no match in other namespace", flow.Filter{Pod: []string{"kube-system/client"}}, ""},
		{"namespace", flow.Filter{Namespace: []string{"default"}}, "drop host ping syn synack udp"},
		{"from-namespace", flow.Filter{FromNamespace: []string{"prod"}}, "ping"},
		{"to-namespace", flow.Filter{ToNamespace: []string{"prod"}}, "drop"},
		{"from-ip", flow.Filter{FromIP: []string{"10.0.0.11"}}, "drop syn"},
		{"to-ip cidr", flow.Filter{ToIP: []string{"8.0.0.0/8"}}, "udp"},
		{"ip either", flow.Filter{IP: []string{"10.0.0.13"}}, "drop ping"},
		{"port either", flow.Filter{Port: []string{"80"}}, "host syn synack"},
		{"to-port", flow.Filter{ToPort: []string{"80"}}, "host syn"},
		{"from-port", flow.Filter{FromPort: []string{"80"}}, "synack"},
		{"port never matches icmp id", flow.Filter{Port: []string{"7"}}, ""},
		{"verdict", flow.Filter{Verdict: []string{"DROPPED"}}, "drop"},
		{"verdict lower case", flow.Filter{Verdict: []string{"forwarded"}}, "host ping syn synack udp"},
		{"protocol", flow.Filter{Protocol: []string{"udp", "icmp"}}, "ping udp"},
		{"type drop", flow.Filter{Type: []string{"drop"}}, "drop"},
		{"type drop reason", flow.Filter{Type: []string{"drop:133"}}, "drop"},
		{"type drop other reason", flow.Filter{Type: []string{"drop:132"}}, ""},
		{"type trace point", flow.Filter{Type: []string{"trace:from-endpoint"}}, "ping synack udp"},
		{"type trace", flow.Filter{Type: []string{"trace"}}, "host ping syn synack udp"},
		{"type policy-verdict", flow.Filter{Type: []string{"policy-verdict"}}, ""},
		{"from-label", flow.Filter{FromLabel: []string{"app=client"}}, "drop syn"},
		{"to-label k8s prefix", flow.Filter{ToLabel: []string{"k8s:app=server"}}, "host syn"},
		{"label terms AND", flow.Filter{Label: []string{"app=server,tier=web"}}, "host syn synack udp"},
		{"label exists / not", flow.Filter{FromLabel: []string{"tier"}}, "synack udp"},
		{"label not exists", flow.Filter{ToLabel: []string{"!tier"}}, "drop ping synack udp"},
		{"label not equal", flow.Filter{FromLabel: []string{"app!=client"}}, "host ping synack udp"},
		{"namespace label", flow.Filter{FromLabel: []string{"io.kubernetes.pod.namespace=prod"}}, "ping"},
		{"reserved label", flow.Filter{ToLabel: []string{"reserved:world"}}, "udp"},
		{"identity", flow.Filter{Identity: []string{"4605"}}, "drop ping syn synack"},
		{"identity reserved name", flow.Filter{FromIdentity: []string{"host"}}, "host"},
		{"to-identity world", flow.Filter{ToIdentity: []string{"2"}}, "udp"},
		{"fields AND", flow.Filter{FromPod: []string{"default/"}, Verdict: []string{"FORWARDED"}, Protocol: []string{"tcp"}}, "syn synack"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := compileFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, name := range []string{"drop", "host", "ping", "syn", "synack", "udp"} {
				r := record(flows[name])
				if m == nil || m(&r) {
					got = append(got, name)
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("matched %q, want %q", g, tc.want)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		filter flow.Filter
		want   string
	}{
		{flow.Filter{Port: []string{"http"}}, `invalid value "http" for --port`},
		{flow.Filter{ToPort: []string{"70000"}}, `invalid value "70000" for --to-port`},
		{flow.Filter{FromIP: []string{"10.0.0"}}, `invalid value "10.0.0" for --from-ip`},
		{flow.Filter{Verdict: []string{"ALLOWED"}}, `invalid value "ALLOWED" for --verdict: want one of FORWARDED, DROPPED`},
		{flow.Filter{Protocol: []string{"http"}}, "L7 flows need the L7 proxy"},
		{flow.Filter{Protocol: []string{"sctp"}}, "observes tcp, udp and icmp"},
		{flow.Filter{Type: []string{"trace:nowhere"}}, "unknown observation point"},
		{flow.Filter{Type: []string{"l7"}}, "does not produce l7 events"},
		{flow.Filter{Label: []string{"env in (a,b)"}}, "set-based selectors"},
		{flow.Filter{Label: []string{"container:x=y"}}, `label source "container"`},
		{flow.Filter{Identity: []string{"galaxy"}}, "reserved name"},
		{flow.Filter{Pod: []string{"/x"}}, "empty namespace"},
	} {
		_, err := compileFilter(tc.filter)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compileFilter(%+v) = %v, want an error containing %q", tc.filter, err, tc.want)
		}
	}
}

func TestQueryRoundTrip(t *testing.T) {
	q := flow.Query{Last: 100, Follow: true, Filter: flow.Filter{FromPod: []string{"default/a", "default/b"}, Verdict: []string{"DROPPED"}}}
	got, err := flow.ParseQuery(q.Values())
	if err != nil {
		t.Fatal(err)
	}
	if got.Last != 100 || !got.Follow || len(got.Filter.FromPod) != 2 || got.Filter.Verdict[0] != "DROPPED" {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := flow.ParseQuery(map[string][]string{"form-pod": {"x"}}); err == nil || !strings.Contains(err.Error(), `unknown flow filter "form-pod"`) {
		t.Fatalf("misspelt filter: %v", err)
	}
	if q, _ := flow.ParseQuery(nil); q.Last != flow.DefaultLast {
		t.Fatalf("no last, no follow: Last %d, want %d", q.Last, flow.DefaultLast)
	}
}
