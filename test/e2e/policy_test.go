package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/ipcache"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/cells/policy"
	"github.com/hivenet/hivenet/test/cluster"
)

// agentJSON GETs path from a node's agent API and decodes the answer.
func agentJSON(n *cluster.Node, path string, v any) error {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", n.Socket)
		},
	}}
	resp, err := hc.Get("http://agent" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// eventually polls cond every 20ms until it returns nil or the deadline
// passes, and returns how long it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < timeout {
		if err = cond(); err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, timeout, err)
	return 0
}

func endpointOf(n *cluster.Node, pod string) (endpoints.Endpoint, error) {
	var eps []endpoints.Endpoint
	if err := agentJSON(n, "/v1/db/endpoints?format=json", &eps); err != nil {
		return endpoints.Endpoint{}, err
	}
	for _, ep := range eps {
		if ep.Pod == pod {
			return ep, nil
		}
	}
	return endpoints.Endpoint{}, fmt.Errorf("no endpoint for pod %s on %s", pod, n.Name)
}

func hasEntry(es []policy.MapEntry, verdict, dir string, id uint32, port string) bool {
	return slices.ContainsFunc(es, func(e policy.MapEntry) bool {
		return e.Policy == verdict && e.Direction == dir && e.Identity == id && e.Port == port
	})
}

func applyYAML[T any](t *testing.T, manifest string, obj *T) *T {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(manifest), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestPolicyControlPlane follows a policy from the API server to the
// kernel on a real two-node box: pods get cluster-wide identities
// (CiliumIdentity objects), endpoints carry them into cilium_lxc, each
// node's cilium_ipcache knows the other node's pods with their tunnel
// endpoint, a NetworkPolicy turns into the server's policy map entries (and
// back when deleted), a CiliumNetworkPolicy adds an L4 allow for the
// client's identity, and an invalid policy is rejected with its reason.
// It does not send traffic: enforcement in the datapath is not wired yet.
func TestPolicyControlPlane(t *testing.T) {
	c := upCluster(t, 2)
	ctx := context.Background()
	n1, n2 := c.Nodes[0], c.Nodes[1]
	for _, p := range []struct{ name, node string }{{"server", n1.Name}, {"client", n2.Name}} {
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, echoPod(p.name, p.node), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	server, clientPod := waitRunning(t, c, "server"), waitRunning(t, c, "client")
	cs, err := client.NewClientset(c.CP.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}

	// Identities, allocated by the agents as CiliumIdentity objects.
	ids := map[string]uint32{}
	eventually(t, 30*time.Second, "CiliumIdentities for server and client", func() error {
		l, err := cs.Cilium.V2.CiliumIdentities.List(ctx, "", metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, o := range l.Items {
			var n uint32
			if _, err := fmt.Sscan(o.Name, &n); err != nil || n < 256 {
				return fmt.Errorf("CiliumIdentity named %q, want a number from 256", o.Name)
			}
			if app := o.SecurityLabels["k8s:app"]; app != "" && o.SecurityLabels["k8s:io.kubernetes.pod.namespace"] == "default" {
				ids[app] = n
			}
		}
		if ids["server"] == 0 || ids["client"] == 0 || ids["server"] == ids["client"] {
			return fmt.Errorf("identities %v", ids)
		}
		return nil
	})
	var ep endpoints.Endpoint
	eventually(t, 10*time.Second, "server endpoint carries its identity", func() error {
		ep, err = endpointOf(n1, "server")
		if err == nil && ep.Identity != ids["server"] {
			err = fmt.Errorf("endpoint identity %d, want %d", ep.Identity, ids["server"])
		}
		return err
	})

	// Each node's ipcache maps the other's pod to its identity and node.
	for _, x := range []struct {
		node   *cluster.Node
		ip     string
		id     uint32
		tunnel string
	}{{n1, clientPod.Status.PodIP, ids["client"], n2.IP.String()}, {n2, server.Status.PodIP, ids["server"], n1.IP.String()}} {
		eventually(t, 10*time.Second, "ipcache of "+x.node.Name, func() error {
			var es []ipcache.MapEntry
			if err := agentJSON(x.node, "/v1/bpf/ipcache", &es); err != nil {
				return err
			}
			for _, e := range es {
				if e.Prefix.String() == x.ip+"/32" {
					if e.Identity != x.id || e.TunnelEndpoint.String() != x.tunnel {
						return fmt.Errorf("%+v, want identity %d tunnel %s", e, x.id, x.tunnel)
					}
					return nil
				}
			}
			return fmt.Errorf("%s not in %v", x.ip, es)
		})
	}

	bpfPolicy := func() ([]policy.MapEntry, error) {
		var es []policy.MapEntry
		err := agentJSON(n1, fmt.Sprintf("/v1/bpf/policy/%d", ep.ID), &es)
		return es, err
	}
	allowAll := func() error {
		es, err := bpfPolicy()
		if err == nil && !hasEntry(es, "Allow", "Ingress", 0, "ANY") {
			err = fmt.Errorf("no allow-all ingress entry: %+v", es)
		}
		return err
	}
	eventually(t, 10*time.Second, "server's policy map allows all before any policy", allowAll)

	// Deny ingress: only the node (kubelet probes) stays allowed.
	np := applyYAML(t, `
metadata: {name: deny-server-ingress}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress]`, &networkingv1.NetworkPolicy{})
	for i := range 3 {
		if _, err := c.Client.NetworkingV1().NetworkPolicies("default").Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		d := eventually(t, 10*time.Second, "deny-ingress in the server's policy map", func() error {
			es, err := bpfPolicy()
			if err == nil && (hasEntry(es, "Allow", "Ingress", 0, "ANY") || !hasEntry(es, "Allow", "Ingress", 1, "ANY")) {
				err = fmt.Errorf("entries %+v", es)
			}
			return err
		})
		if err := c.Client.NetworkingV1().NetworkPolicies("default").Delete(ctx, np.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		d2 := eventually(t, 10*time.Second, "allow-all back after delete", allowAll)
		t.Logf("round %d: API write to policy map %s, delete to policy map %s", i, d, d2)
	}

	// A CiliumNetworkPolicy allowing the client on 80/TCP.
	cnp := applyYAML(t, `
metadata: {name: allow-client, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]`, &v2.CiliumNetworkPolicy{})
	if _, err := cs.Cilium.V2.CiliumNetworkPolicies.Create(ctx, "default", cnp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "client allowed on 80/TCP", func() error {
		es, err := bpfPolicy()
		if err == nil && (!hasEntry(es, "Allow", "Ingress", ids["client"], "80/TCP") || hasEntry(es, "Allow", "Ingress", 0, "ANY")) {
			err = fmt.Errorf("entries %+v", es)
		}
		return err
	})

	// The CLI shows the same, in Cilium's columns.
	hivenet := func(args ...string) string {
		out, err := exec.Command(filepath.Join(buildBinaries(t), "hivenet"), append([]string{"-s", n1.Socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("hivenet %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := hivenet("identity", "list"); !strings.Contains(out, fmt.Sprint(ids["server"])) || !strings.Contains(out, "k8s:app=server") || !strings.Contains(out, "reserved:world") {
		t.Errorf("hivenet identity list:\n%s", out)
	}
	if out := hivenet("bpf", "policy", "get", fmt.Sprint(ep.ID)); !strings.Contains(out, "POLICY") || !strings.Contains(out, "80/TCP") || !strings.Contains(out, "CiliumNetworkPolicy default/allow-client") {
		t.Errorf("hivenet bpf policy get:\n%s", out)
	}
	if out := hivenet("bpf", "ipcache", "list"); !strings.Contains(out, clientPod.Status.PodIP+"/32") || !strings.Contains(out, "tunnelendpoint="+n2.IP.String()) {
		t.Errorf("hivenet bpf ipcache list:\n%s", out)
	}
	if out := hivenet("policy", "get"); !strings.Contains(out, "CiliumNetworkPolicy default/allow-client") || !strings.Contains(out, "Endpoint "+fmt.Sprint(ep.ID)) {
		t.Errorf("hivenet policy get:\n%s", out)
	}

	// A label change is re-evaluated: relabelled, the client gets another
	// identity, which the server's policy no longer allows.
	patch := []byte(`{"metadata":{"labels":{"app":"intruder"}}}`)
	if _, err := c.Client.CoreV1().Pods("default").Patch(ctx, "client", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	d := eventually(t, 10*time.Second, "relabelled client no longer allowed", func() error {
		es, err := bpfPolicy()
		if err != nil {
			return err
		}
		var ipc []ipcache.MapEntry
		if err := agentJSON(n1, "/v1/bpf/ipcache", &ipc); err != nil {
			return err
		}
		var now uint32
		for _, e := range ipc {
			if e.Prefix.String() == clientPod.Status.PodIP+"/32" {
				now = e.Identity
			}
		}
		// The old identity stays allowed (it exists until collected), but
		// the client's address now maps to one the policy does not allow.
		if now == 0 || now == ids["client"] {
			return fmt.Errorf("ipcache maps the client to %d (old identity %d)", now, ids["client"])
		}
		if slices.ContainsFunc(es, func(e policy.MapEntry) bool { return e.Direction == "Ingress" && e.Identity == now }) {
			return fmt.Errorf("new identity %d has entries: %+v", now, es)
		}
		return nil
	})
	t.Logf("label change to ipcache and policy map on the other node: %s", d)
	if _, err := c.Client.CoreV1().Pods("default").Patch(ctx, "client", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"client"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "client allowed again under its old identity", func() error {
		return allowClientStill(bpfPolicy, ids["client"])
	})

	// An invalid policy (an except outside its CIDR passes the CRD schema)
	// is rejected with its reason and changes nothing else.
	bad := applyYAML(t, `
metadata: {name: bad-except, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress: [{fromCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/8]}]}]`, &v2.CiliumNetworkPolicy{})
	if _, err := cs.Cilium.V2.CiliumNetworkPolicies.Create(ctx, "default", bad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bad-except rejected", func() error {
		var sts []policy.Status
		if err := agentJSON(n1, "/v1/policy/status", &sts); err != nil {
			return err
		}
		for _, s := range sts {
			if s.Name == "CiliumNetworkPolicy default/bad-except" {
				if s.Valid || !strings.Contains(s.Error, "except[0] 11.0.0.0/8 is not inside cidr 10.0.0.0/8") {
					return fmt.Errorf("status %+v", s)
				}
				return nil
			}
		}
		return fmt.Errorf("no status in %+v", sts)
	})
	eventually(t, 10*time.Second, "bad-except carries Valid=False on the object", func() error {
		o, err := cs.Cilium.V2.CiliumNetworkPolicies.Get(ctx, "default", "bad-except", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range o.Status.Conditions {
			if cond.Type == v2.PolicyConditionValid && cond.Status == metav1.ConditionFalse && strings.Contains(cond.Message, "except[0]") {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", o.Status.Conditions)
	})
	if err := allowClientStill(bpfPolicy, ids["client"]); err != nil {
		t.Error(err)
	}
}

func allowClientStill(get func() ([]policy.MapEntry, error), client uint32) error {
	es, err := get()
	if err == nil && !hasEntry(es, "Allow", "Ingress", client, "80/TCP") {
		err = fmt.Errorf("client's allow vanished after an invalid policy: %+v", es)
	}
	return err
}
