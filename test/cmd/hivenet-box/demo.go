package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/test/box"
	"github.com/hivenet/hivenet/test/cluster"
)

func demoCmd() *cobra.Command {
	var manifest string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Apply the getting-started manifests and show the client reaching the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := waitReady(wait)
			if err != nil {
				return err
			}
			kubectl := filepath.Join(box.DefaultBinDir(), "kubectl")
			k := func(args ...string) (string, error) {
				c := exec.Command(kubectl, append([]string{"--kubeconfig", st.Kubeconfig}, args...)...)
				out, err := c.CombinedOutput()
				return strings.TrimSpace(string(out)), err
			}
			step := func(format string, a ...any) { fmt.Printf("\n==> "+format+"\n", a...) }

			step("kubectl get nodes -o wide")
			out, err := k("get", "nodes", "-o", "wide")
			fmt.Println(out)
			if err != nil {
				return err
			}
			step("kubectl apply -f %s", manifest)
			if out, err = k("apply", "-f", manifest); err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			fmt.Println(out)
			step("waiting for the pods to be Ready")
			if out, err = k("wait", "--for=condition=Ready", "pod", "--all", "--timeout=180s"); err != nil {
				return fmt.Errorf("pods not ready: %v: %s", err, out)
			}
			out, _ = k("get", "pods", "-o", "wide")
			fmt.Println(out)

			serverIP, err := k("get", "pod", "-l", "app=server", "-o", "jsonpath={.items[0].status.podIP}")
			if err != nil || serverIP == "" {
				return fmt.Errorf("no server pod IP: %v %s", err, serverIP)
			}
			try := func(target string) (string, error) {
				netns, err := cluster.PodNetns(dir, "default", "client")
				if err != nil {
					return "", err
				}
				var last string
				for range 15 {
					c := exec.Command("ip", "netns", "exec", netns, "curl", "-s", "--max-time", "3", target)
					b, err := c.CombinedOutput()
					last = strings.TrimSpace(string(b))
					if err == nil && last != "" {
						return last, nil
					}
					time.Sleep(time.Second)
				}
				return last, fmt.Errorf("curl %s failed: %s", target, last)
			}
			step("client -> server by Service name: hivenet-box exec default/client -- curl -s server")
			answer, err := try("http://server/")
			if err != nil {
				fmt.Println("   (not reachable by Service name:", err, ")")
				step("client -> server by pod IP: hivenet-box exec default/client -- curl -s %s", serverIP)
				if answer, err = try("http://" + serverIP + "/"); err != nil {
					return err
				}
			}
			fmt.Println(answer)

			self, _ := os.Executable()
			bin := filepath.Dir(self)
			fmt.Printf(`
The cluster is running. Try:
  export KUBECONFIG=%s
  %s get pods -A -o wide
  %s/hivenet-box exec default/client -- curl -s server
  %s/hivenet --socket %s status
  %s/hivenet --socket %s endpoint list
  %s/hivenet --socket %s observe --last 20
Stop it with: make demo-down
`, st.Kubeconfig, kubectl, bin, bin, st.Nodes[0].Socket, bin, st.Nodes[0].Socket, bin, st.Nodes[0].Socket)
			return nil
		},
	}
	cmd.Flags().StringVar(&manifest, "manifest", "test/cluster/demo/demo.yaml", "Manifests to apply")
	cmd.Flags().DurationVar(&wait, "wait", 5*time.Minute, "How long to wait for the cluster to be up")
	return cmd
}
