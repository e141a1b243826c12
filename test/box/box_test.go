package box_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/cells/k8s/crds"
	"github.com/hivenet/hivenet/test/box"
)

// startBox starts a control plane for one test and stops it at cleanup.
// Missing binaries fail the test: a skipped e2e test is not a pass.
func startBox(t *testing.T, ctx context.Context, cfg box.Config) *box.ControlPlane {
	t.Helper()
	start := time.Now()
	cp, err := box.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Logf("control plane up in %s at %s (dir %s)", time.Since(start).Round(time.Millisecond), cp.URL, cp.Dir())
	t.Cleanup(cp.Stop)
	return cp
}

func TestControlPlaneCiliumCRDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp := startBox(t, ctx, box.Config{NoControllerManager: true})
	cfg := cp.RESTConfig()

	ext, err := apiextensionsclientset.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	regCtx, regCancel := context.WithTimeout(ctx, 60*time.Second)
	defer regCancel()
	if err := crds.Register(regCtx, ext, nil); err != nil {
		t.Fatalf("register CRDs: %v", err)
	}
	// A second operator start must find everything in place.
	if err := crds.Register(regCtx, ext, nil); err != nil {
		t.Fatalf("register CRDs again: %v", err)
	}
	all, _ := crds.All()
	for _, c := range all {
		got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, c.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get CRD %s: %v", c.Name, err)
		}
		if got.Generation != 1 {
			t.Errorf("CRD %s rewritten by the second Register (generation %d)", c.Name, got.Generation)
		}
	}

	t.Run("kubectl apply of user manifests", func(t *testing.T) {
		kubectl(t, cp, "apply", "-f", filepath.Join("testdata", "cilium-valid.yaml"))
		cil, err := client.NewCilium(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cnp, err := cil.V2.CiliumNetworkPolicies.Get(ctx, "default", "allow-frontend", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		in := cnp.Spec.Ingress
		if len(in) != 2 || len(in[0].ToPorts) != 1 || in[0].ToPorts[0].Ports[0] != (v2.PortProtocol{Port: "8080", EndPort: 8090, Protocol: v2.ProtoTCP}) {
			t.Fatalf("ingress read back wrong: %+v", in)
		}
		if got := in[0].ToPorts[0].Rules.HTTP[0]; got.Method != "GET" || got.Path != "/public/.*" {
			t.Errorf("http rule read back wrong: %+v", got)
		}
		if got := in[1].FromCIDRSet[0]; got.Cidr != "192.168.0.0/16" || len(got.ExceptCIDRs) != 1 || got.ExceptCIDRs[0] != "192.168.10.0/24" {
			t.Errorf("fromCIDRSet read back wrong: %+v", got)
		}
		if d := cnp.Spec.EnableDefaultDeny; d.Egress == nil || *d.Egress || d.Ingress != nil {
			t.Errorf("enableDefaultDeny read back wrong: %+v", d)
		}
		if sel := cnp.Spec.EgressDeny[0].ToEndpoints[0]; len(sel.MatchExpressions) != 1 || sel.MatchExpressions[0].Operator != v2.LabelSelectorOpIn {
			t.Errorf("matchExpressions read back wrong: %+v", sel)
		}
		// The v2alpha1 pool is stored as v2 and readable in both versions.
		pool, err := cil.V2.CiliumLoadBalancerIPPools.Get(ctx, "", "alpha-pool", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pool.Spec.Blocks) != 2 || pool.Spec.Blocks[1].Start != "172.18.251.10" {
			t.Errorf("pool read back wrong: %+v", pool.Spec)
		}
		id, err := cil.V2.CiliumIdentities.Get(ctx, "", "12345", metav1.GetOptions{})
		if err != nil || id.SecurityLabels["k8s:app"] != "frontend" {
			t.Errorf("identity read back wrong: %+v, %v", id, err)
		}
		cep, err := cil.V2.CiliumEndpoints.Get(ctx, "default", "frontend-1", metav1.GetOptions{})
		if err != nil || cep.Status.Networking == nil || cep.Status.Networking.Addressing[0].IPV4 != "10.244.0.7" {
			t.Errorf("endpoint read back wrong: %+v, %v", cep, err)
		}
		l2, err := cil.V2alpha1.CiliumL2AnnouncementPolicies.Get(ctx, "", "l2policy", metav1.GetOptions{})
		if err != nil || !l2.Spec.LoadBalancerIPs || l2.Spec.Interfaces[0] != "^eth[0-9]+" {
			t.Errorf("L2 policy read back wrong: %+v, %v", l2, err)
		}
	})

	t.Run("typed create", func(t *testing.T) {
		cil, err := client.NewCilium(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pool := &v2.CiliumLoadBalancerIPPool{
			ObjectMeta: metav1.ObjectMeta{Name: "typed-pool"},
			Spec: v2.CiliumLoadBalancerIPPoolSpec{
				Blocks:          []v2.CiliumLoadBalancerIPPoolIPBlock{{Cidr: "10.10.0.0/24"}, {Cidr: "fd00:10::/120"}},
				ServiceSelector: &v2.LabelSelector{MatchLabels: map[string]v2.MatchLabelsValue{"color": "blue"}},
			},
		}
		got, err := cil.V2.CiliumLoadBalancerIPPools.Create(ctx, "", pool, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pool: %v", err)
		}
		if got.UID == "" || got.Spec.Blocks[1].Cidr != "fd00:10::/120" {
			t.Errorf("created pool wrong: %+v", got)
		}
		got.Status.Conditions = []metav1.Condition{{Type: v2.PoolConditionIPsAvailable, Status: metav1.ConditionTrue,
			Reason: "Test", Message: "256", LastTransitionTime: metav1.Now()}}
		if _, err := cil.V2.CiliumLoadBalancerIPPools.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update pool status: %v", err)
		}
		list, err := cil.V2.CiliumLoadBalancerIPPools.List(ctx, "", metav1.ListOptions{})
		if err != nil || len(list.Items) < 1 {
			t.Fatalf("list pools: %v (%d items)", err, len(list.Items))
		}
	})

	t.Run("schema rejects bad objects", func(t *testing.T) {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, resource, namespace, manifest, wantInMsg string
		}{
			{"pool with invalid CIDR", v2.PoolPluralName, "", `
apiVersion: cilium.io/v2
kind: CiliumLoadBalancerIPPool
metadata: {name: bad-cidr}
spec:
  blocks:
  - cidr: 10.0.0.300/24`, "spec.blocks[0].cidr"},
			{"v2alpha1 pool with invalid CIDR", v2.PoolPluralName, "", `
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata: {name: bad-cidr-alpha}
spec:
  cidrs:
  - cidr: not-a-cidr`, "spec.cidrs[0].cidr"},
			{"policy with endPort of the wrong type", v2.CNPPluralName, "default", `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-type, namespace: default}
spec:
  endpointSelector: {}
  ingress:
  - toPorts:
    - ports:
      - port: "80"
        endPort: "eighty"`, "endPort"},
			{"policy with ingress not a list", v2.CNPPluralName, "default", `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-ingress, namespace: default}
spec:
  endpointSelector: {}
  ingress: allow-all`, "spec.ingress"},
			{"policy with port out of range", v2.CNPPluralName, "default", `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-port, namespace: default}
spec:
  endpointSelector: {}
  ingress:
  - toPorts:
    - ports:
      - port: "99999"`, "port"},
			{"policy with endPort above 65535", v2.CNPPluralName, "default", `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-endport, namespace: default}
spec:
  endpointSelector: {}
  egress:
  - toPorts:
    - ports:
      - {port: "80", endPort: 70000}`, "endPort"},
			{"policy with unknown entity", v2.CNPPluralName, "default", `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-entity, namespace: default}
spec:
  endpointSelector: {}
  egress:
  - toEntities: [wrld]`, "toEntities"},
			{"policy with bad except CIDR", v2.CNPPluralName, "default", `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-except, namespace: default}
spec:
  endpointSelector: {}
  ingress:
  - fromCIDRSet:
    - cidr: 10.0.0.0/8
      except: [10.1.0.0/33]`, "except"},
			{"policy with bad selector operator", v2.CNPPluralName, "default", `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bad-op, namespace: default}
spec:
  endpointSelector:
    matchExpressions:
    - {key: app, operator: Equals, values: [x]}`, "operator"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				obj := &unstructured.Unstructured{}
				js, err := yaml.YAMLToJSON([]byte(tc.manifest))
				if err != nil {
					t.Fatal(err)
				}
				if err := obj.UnmarshalJSON(js); err != nil {
					t.Fatal(err)
				}
				gv, _ := schema.ParseGroupVersion(obj.GetAPIVersion())
				res := dyn.Resource(gv.WithResource(tc.resource))
				var ri dynamic.ResourceInterface = res
				if tc.namespace != "" {
					ri = res.Namespace(tc.namespace)
				}
				_, err = ri.Create(ctx, obj, metav1.CreateOptions{})
				if err == nil {
					t.Fatalf("API server accepted a bad %s", obj.GetKind())
				}
				if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
					t.Fatalf("want Invalid or BadRequest, got %v", err)
				}
				if !strings.Contains(err.Error(), tc.wantInMsg) {
					t.Errorf("error does not name %q: %v", tc.wantInMsg, err)
				}
				t.Logf("rejected: %v", err)
			})
		}
	})
}

// TestControlPlaneBindAddress: a box bound to another address (as one with
// node namespaces binds to its bridge) serves a certificate valid for it.
func TestControlPlaneBindAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp := startBox(t, ctx, box.Config{NoControllerManager: true, BindAddress: "127.0.0.2"})
	if !strings.HasPrefix(cp.URL, "https://127.0.0.2:") {
		t.Fatalf("URL %s does not use the bind address", cp.URL)
	}
	cs, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("TLS to the bind address: %v", err)
	}
	if v.GitVersion != "v"+box.KubernetesVersion {
		t.Errorf("server reports %s, want v%s", v.GitVersion, box.KubernetesVersion)
	}
	if out := kubectl(t, cp, "version", "-o", "json"); !strings.Contains(out, `"gitVersion": "v`+box.KubernetesVersion+`"`) {
		t.Errorf("kubectl version: %s", out)
	}
}

func TestControlPlaneControllers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp := startBox(t, ctx, box.Config{})
	cs, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}

	// node-ipam: a registered node gets a pod CIDR from the cluster CIDR.
	_, clusterNet, _ := net.ParseCIDR("10.244.0.0/16")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "hvk8s-node-1"}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "node pod CIDR", func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.PodCIDR == "" {
			return errors.New("no podCIDR yet")
		}
		ip, ipn, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil || !clusterNet.Contains(ip) {
			return fmt.Errorf("podCIDR %q not in %s", n.Spec.PodCIDR, clusterNet)
		}
		if ones, _ := ipn.Mask.Size(); ones != 24 {
			return fmt.Errorf("podCIDR %q is not a /24", n.Spec.PodCIDR)
		}
		return nil
	})

	// serviceaccount: a new namespace gets its default service account.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hvk8s-test"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "default service account", func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err
	})

	// endpointslice: a pod that is Ready shows up in its service's slice.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns.Name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := cs.CoreV1().Services(ns.Name).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-1", Namespace: ns.Name, Labels: map[string]string{"app": "echo"}},
		Spec:       corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "echo", Image: "hivenet/echo"}}},
	}
	if pod, err = cs.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Play kubelet: report the pod running and ready with an IP.
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.5", PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if _, err := cs.CoreV1().Pods(ns.Name).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "endpointslice with the pod", func() error {
		slices, err := cs.DiscoveryV1().EndpointSlices(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=echo"})
		if err != nil {
			return err
		}
		for _, s := range slices.Items {
			for _, ep := range s.Endpoints {
				if len(ep.Addresses) > 0 && ep.Addresses[0] == "10.244.0.5" && ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					return nil
				}
			}
		}
		return fmt.Errorf("%d slices, none with a ready 10.244.0.5", len(slices.Items))
	})

	// garbage collector: deleting an owner removes its dependents.
	owner, err := cs.CoreV1().ConfigMaps(ns.Name).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dependent := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dependent", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}}}}
	if _, err := cs.CoreV1().ConfigMaps(ns.Name).Create(ctx, dependent, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps(ns.Name).Delete(ctx, owner.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "dependent garbage-collected", func() error {
		_, err := cs.CoreV1().ConfigMaps(ns.Name).Get(ctx, dependent.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("dependent still there: %v", err)
	})

	// namespace: deleting it removes what is left in it. Nothing plays
	// kubelet here to finish a graceful pod deletion, so the pod goes first,
	// at once.
	if err := cs.CoreV1().Pods(ns.Name).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "namespace deletion", func() error {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace still there: %v", err)
	})

	// The API server restarts on the same address and keeps its data.
	cp.StopAPIServer()
	if _, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); err == nil {
		t.Fatal("API server still answering after StopAPIServer")
	}
	restart := time.Now()
	if err := cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("API server restarted in %s", time.Since(restart).Round(time.Millisecond))
	if _, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("node lost across API server restart: %v", err)
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		if last = cond(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached in time: %v", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func kubectl(t *testing.T, cp *box.ControlPlane, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(cp.BinDir(), "kubectl"), append([]string{"--kubeconfig", cp.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestStartFailsWithoutBinaries(t *testing.T) {
	_, err := box.Start(context.Background(), box.Config{BinDir: t.TempDir()})
	if !errors.Is(err, box.ErrBinariesMissing) {
		t.Fatalf("want ErrBinariesMissing, got %v", err)
	}
	if !strings.Contains(err.Error(), "test/k8sbin/build.sh") {
		t.Errorf("error does not say how to build the binaries: %v", err)
	}
}
