package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// podRunner plays the kubelet of one node.
type podRunner struct {
	c    *Cluster
	node *Node

	mu   sync.Mutex
	pods map[types.UID]*podRuntime
}

type podRuntime struct {
	mu         sync.Mutex
	uid        types.UID
	namespace  string
	name       string
	netns      string
	hostNet    bool
	ip         netip.Addr
	procs      map[string]*proc
	restarts   map[string]int32
	terminated bool
	wired      bool
}

func newPodRunner(c *Cluster, n *Node) *podRunner {
	return &podRunner{c: c, node: n, pods: map[types.UID]*podRuntime{}}
}

func (r *podRunner) podsDir() string { return filepath.Join(r.c.cfg.Dir, "pods") }

func (r *podRunner) run(ctx context.Context) {
	_ = os.MkdirAll(r.podsDir(), 0o755)
	factory := informers.NewSharedInformerFactoryWithOptions(r.c.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", r.node.Name).String()
		}))
	handle := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		go r.sync(ctx, p)
	}
	_, _ = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    handle,
		UpdateFunc: func(_, obj any) { handle(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				go r.teardown(p.UID, false)
			}
		},
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
}

// sync brings a pod to what its object says: started, or torn down and
// released once it is being deleted.
func (r *podRunner) sync(ctx context.Context, p *corev1.Pod) {
	if p.DeletionTimestamp != nil {
		r.teardown(p.UID, true)
		r.finishDelete(ctx, p)
		return
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return
	}
	r.mu.Lock()
	rt, ok := r.pods[p.UID]
	if !ok {
		rt = &podRuntime{uid: p.UID, namespace: p.Namespace, name: p.Name, procs: map[string]*proc{}, restarts: map[string]int32{}}
		r.pods[p.UID] = rt
	}
	r.mu.Unlock()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.terminated || rt.wired {
		return
	}
	if err := r.start(ctx, p, rt); err != nil {
		r.c.log.Warn("Starting pod failed", "pod", p.Namespace+"/"+p.Name, "node", r.node.Name, "error", err)
		r.reportFailure(ctx, p, err)
		return
	}
	r.reportRunning(ctx, p, rt)
	for _, c := range p.Spec.Containers {
		go r.supervise(ctx, p, rt, c)
	}
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

// start creates the pod's namespace, wires it with hivenet-cni ADD (retrying
// while the agent says "try again later"), and starts its containers.
func (r *podRunner) start(ctx context.Context, p *corev1.Pod, rt *podRuntime) error {
	if p.Spec.HostNetwork {
		rt.hostNet, rt.netns, rt.ip = true, r.node.Netns, r.node.IP
	} else {
		rt.netns = r.c.cfg.Name + "-p" + shortHash(string(p.UID))
		if _, err := sh("ip", "netns", "add", rt.netns); err != nil {
			return err
		}
		if err := writePodEtc(rt.netns, p, r.c.net.gateway); err != nil {
			return err
		}
		var res cniResult
		err := waitFor(ctx, 2*time.Minute, "CNI ADD", func() error {
			out, err := r.cni("ADD", p, rt.netns)
			if err != nil {
				return err
			}
			return json.Unmarshal(out, &res)
		})
		if err != nil {
			removeNetns(rt.netns)
			return err
		}
		if len(res.IPs) == 0 {
			return fmt.Errorf("CNI ADD returned no address")
		}
		pfx, err := netip.ParsePrefix(res.IPs[0].Address)
		if err != nil {
			return err
		}
		rt.ip = pfx.Addr()
	}
	rt.wired = true
	_ = os.WriteFile(filepath.Join(r.podsDir(), p.Namespace+"_"+p.Name+".netns"), []byte(rt.netns), 0o644)
	for _, c := range p.Spec.Containers {
		if err := r.startContainer(p, rt, &c); err != nil {
			return err
		}
	}
	return nil
}

type cniResult struct {
	IPs []struct {
		Address string `json:"address"`
	} `json:"ips"`
}

// cni runs hivenet-cni as a container runtime does: CNI_* in the
// environment and the plugin's configuration, taken from the conflist the
// agent wrote, on stdin.
func (r *podRunner) cni(command string, p *corev1.Pod, netns string) ([]byte, error) {
	conf, err := pluginConf(r.node.Conflist())
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(r.c.cfg.BinDir, "hivenet-cni"))
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+command,
		"CNI_CONTAINERID="+string(p.UID),
		"CNI_NETNS=/var/run/netns/"+netns,
		"CNI_IFNAME=eth0",
		"CNI_PATH="+r.c.cfg.BinDir,
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s", p.Namespace, p.Name, p.UID, p.UID),
	)
	cmd.Stdin = bytes.NewReader(conf)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hivenet-cni %s: %w: %s%s", command, err, strings.TrimSpace(out.String()), strings.TrimSpace(errOut.String()))
	}
	return out.Bytes(), nil
}

// pluginConf turns the conflist into the single plugin configuration a
// runtime passes on stdin (what libcni does).
func pluginConf(conflist string) ([]byte, error) {
	b, err := os.ReadFile(conflist)
	if err != nil {
		return nil, fmt.Errorf("agent has not written its CNI configuration yet: %w", err)
	}
	var list struct {
		CNIVersion string           `json:"cniVersion"`
		Name       string           `json:"name"`
		Plugins    []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(b, &list); err != nil || len(list.Plugins) == 0 {
		return nil, fmt.Errorf("bad conflist %s: %v", conflist, err)
	}
	plugin := list.Plugins[0]
	plugin["cniVersion"], plugin["name"] = list.CNIVersion, list.Name
	return json.Marshal(plugin)
}

// writePodEtc writes the files `ip netns exec` bind-mounts over /etc for
// processes in the pod: resolv.conf pointing at the box's DNS with the
// cluster's search path, and hosts with the pod's own name.
func writePodEtc(netns string, p *corev1.Pod, dns netip.Addr) error {
	dir := "/etc/netns/" + netns
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	resolv := fmt.Sprintf("nameserver %s\nsearch %s.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n", dns, p.Namespace)
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(resolv), 0o644); err != nil {
		return err
	}
	hosts := fmt.Sprintf("127.0.0.1 localhost\n::1 localhost\n127.0.1.1 %s\n", p.Name)
	return os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644)
}

func (r *podRunner) logPath(p *corev1.Pod, container string) string {
	return filepath.Join(r.podsDir(), fmt.Sprintf("%s_%s_%s.log", p.Namespace, p.Name, container))
}

func (r *podRunner) startContainer(p *corev1.Pod, rt *podRuntime, c *corev1.Container) error {
	argv, err := containerArgv(filepath.Join(r.c.cfg.BinDir, "hivenet-box"), c)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.Name, err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", rt.netns}, argv...)...)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOSTNAME=" + p.Name, "POD_NAME=" + p.Name, "POD_NAMESPACE=" + p.Namespace, "POD_IP=" + rt.ip.String(),
		"HOME=/root",
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
	}
	if c.WorkingDir != "" {
		cmd.Dir = c.WorkingDir
	}
	pr, err := r.c.spawn.startProc(cmd, r.logPath(p, c.Name))
	if err != nil {
		return fmt.Errorf("container %s: %w", c.Name, err)
	}
	rt.procs[c.Name] = pr
	return nil
}

// supervise restarts a container that exits, as restartPolicy asks, with
// the kubelet's doubling backoff.
func (r *podRunner) supervise(ctx context.Context, p *corev1.Pod, rt *podRuntime, c corev1.Container) {
	backoff := time.Second
	for {
		rt.mu.Lock()
		pr := rt.procs[c.Name]
		rt.mu.Unlock()
		if pr == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-pr.done:
		}
		rt.mu.Lock()
		if rt.terminated {
			rt.mu.Unlock()
			return
		}
		policy := p.Spec.RestartPolicy
		ok := pr.err == nil
		rt.mu.Unlock()
		if policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && ok) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
		rt.mu.Lock()
		if rt.terminated {
			rt.mu.Unlock()
			return
		}
		rt.restarts[c.Name]++
		err := r.startContainer(p, rt, &c)
		rt.mu.Unlock()
		if err != nil {
			r.c.log.Warn("Restarting container failed", "pod", p.Namespace+"/"+p.Name, "container", c.Name, "error", err)
			return
		}
	}
}

func (r *podRunner) reportRunning(ctx context.Context, p *corev1.Pod, rt *podRuntime) {
	now := metav1.Now()
	st := corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    r.node.IP.String(),
		HostIPs:   []corev1.HostIP{{IP: r.node.IP.String()}},
		PodIP:     rt.ip.String(),
		PodIPs:    []corev1.PodIP{{IP: rt.ip.String()}},
		StartTime: &now,
	}
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	for _, c := range p.Spec.Containers {
		started := true
		cs := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "hivenet-box://" + c.Image, Ready: true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}
		if pr := rt.procs[c.Name]; pr != nil {
			cs.ContainerID = fmt.Sprintf("hivenet-box://%d", pr.pid())
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	r.updateStatus(ctx, p, st)
}

func (r *podRunner) reportFailure(ctx context.Context, p *corev1.Pod, err error) {
	st := p.Status.DeepCopy()
	st.Phase = corev1.PodPending
	st.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "StartFailed", Message: err.Error()}}
	r.updateStatus(ctx, p, *st)
}

func (r *podRunner) updateStatus(ctx context.Context, p *corev1.Pod, st corev1.PodStatus) {
	pods := r.c.Client.CoreV1().Pods(p.Namespace)
	for attempt := range 5 {
		cur, err := pods.Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil || cur.UID != p.UID {
			return
		}
		cur.Status = st
		if _, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err == nil || ctx.Err() != nil {
			return
		}
		r.c.log.Debug("Pod status update conflict, retrying", "pod", p.Namespace+"/"+p.Name, "attempt", attempt+1, "error", err)
	}
}

// teardown stops the pod's containers and releases its network: CNI DEL,
// then the namespace.
func (r *podRunner) teardown(uid types.UID, _ bool) {
	r.mu.Lock()
	rt := r.pods[uid]
	delete(r.pods, uid)
	r.mu.Unlock()
	if rt == nil {
		return
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.terminated {
		return
	}
	rt.terminated = true
	for _, pr := range rt.procs {
		_ = pr.stop(3 * time.Second)
	}
	_ = os.Remove(filepath.Join(r.podsDir(), rt.namespace+"_"+rt.name+".netns"))
	if rt.hostNet || !rt.wired {
		if !rt.hostNet && rt.netns != "" {
			removeNetns(rt.netns)
		}
		return
	}
	stub := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: rt.namespace, Name: rt.name, UID: rt.uid}}
	err := waitFor(context.Background(), 30*time.Second, "CNI DEL", func() error {
		_, err := r.cni("DEL", stub, rt.netns)
		return err
	})
	if err != nil {
		r.c.log.Warn("CNI DEL failed", "pod", rt.namespace+"/"+rt.name, "error", err)
	}
	removeNetns(rt.netns)
}

// finishDelete removes a terminating pod's object once it is stopped, as the
// kubelet does after the grace period.
func (r *podRunner) finishDelete(ctx context.Context, p *corev1.Pod) {
	zero := int64(0)
	uid := p.UID
	_ = r.c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid},
	})
}

func (r *podRunner) teardownAll() {
	r.mu.Lock()
	uids := make([]types.UID, 0, len(r.pods))
	for uid := range r.pods {
		uids = append(uids, uid)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, uid := range uids {
		wg.Add(1)
		go func() { defer wg.Done(); r.teardown(uid, false) }()
	}
	wg.Wait()
}
