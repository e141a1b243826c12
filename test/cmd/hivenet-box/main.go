// Command hivenet-box runs the cluster-in-a-box: a real Kubernetes control
// plane, nodes as network namespaces each running hivenet-agent, pods wired
// by hivenet-cni, and an outside client, on one Linux host (see package
// test/cluster).
//
//	hivenet-box up      build the cluster and run it until SIGTERM (or `down`)
//	hivenet-box down    stop the cluster running in --dir
//	hivenet-box status  nodes, agents and where things are
//	hivenet-box exec    run a command inside a pod: exec default/client -- curl -s server
//	hivenet-box demo    apply the getting-started manifests and show client -> server
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/test/cluster"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hivenet-box:", err)
		os.Exit(1)
	}
}

var dir string

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "hivenet-box",
		Short:         "A Kubernetes cluster with hivenet on one host, nodes as network namespaces",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().StringVar(&dir, "dir", "/var/run/hivenet-box", "Directory of the cluster's state, logs and kubeconfig")
	root.AddCommand(upCmd(), downCmd(), statusCmd(), execCmd(), demoCmd(), imageCmd())
	return root
}

func upCmd() *cobra.Command {
	var cfg cluster.Config
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Build the cluster and run it until SIGTERM or `hivenet-box down`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pid, ok := runningPid(); ok {
				return fmt.Errorf("a cluster is already running from %s (pid %d); run `hivenet-box down` first", dir, pid)
			}
			if cfg.BinDir == "" {
				self, err := os.Executable()
				if err != nil {
					return err
				}
				cfg.BinDir = filepath.Dir(self)
			}
			cfg.Dir = dir
			cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
			_ = os.RemoveAll(filepath.Join(dir, "ready"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "box.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
				return err
			}
			defer os.Remove(filepath.Join(dir, "box.pid"))
			defer os.Remove(filepath.Join(dir, "ready"))
			defer os.Remove(filepath.Join(dir, "state.json"))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			c, err := cluster.Up(ctx, cfg)
			if err != nil {
				return err
			}
			defer c.Down()
			if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "cluster up: %d nodes; kubeconfig %s\n", len(c.Nodes), c.Kubeconfig)
			<-ctx.Done()
			fmt.Fprintln(os.Stderr, "stopping the cluster")
			return nil
		},
	}
	cmd.Flags().IntVar(&cfg.Nodes, "nodes", 2, "Number of nodes")
	cmd.Flags().StringVar(&cfg.Name, "name", "hvbox", "Name prefix of namespaces, links and nodes (at most 8 characters)")
	cmd.Flags().StringVar(&cfg.Subnet, "subnet", "192.168.200.0/24", "The nodes' L2 segment")
	cmd.Flags().StringVar(&cfg.BinDir, "bin-dir", "", "Where the hivenet binaries are (default: next to hivenet-box)")
	cmd.Flags().StringVar(&cfg.K8sBinDir, "k8s-bin-dir", "", "Where the Kubernetes binaries are (default: the build cache)")
	cmd.Flags().StringSliceVar(&cfg.AgentArgs, "agent-arg", nil, "Extra flag for every agent (repeatable)")
	return cmd
}

func runningPid() (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "box.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

func downCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the cluster running from --dir and remove everything it created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pid, ok := runningPid()
			if !ok {
				fmt.Println("no cluster running from", dir)
				return nil
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				return err
			}
			deadline := time.Now().Add(2 * time.Minute)
			for syscall.Kill(pid, 0) == nil {
				if time.Now().After(deadline) {
					return fmt.Errorf("cluster (pid %d) still running after 2 minutes", pid)
				}
				time.Sleep(100 * time.Millisecond)
			}
			fmt.Println("cluster stopped")
			return nil
		},
	}
}

// waitReady waits until `up` wrote its ready file, failing early if it died.
func waitReady(timeout time.Duration) (*cluster.State, error) {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			return cluster.ReadState(dir)
		}
		if _, ok := runningPid(); !ok && time.Since(deadline.Add(-timeout)) > 5*time.Second {
			return nil, fmt.Errorf("the cluster is not running (see %s)", filepath.Join(dir, "box.log"))
		}
		if time.Now().After(deadline) {
			return nil, errors.New("cluster not ready in time")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func statusCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's nodes, agents and files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st *cluster.State
			var err error
			if wait > 0 {
				st, err = waitReady(wait)
			} else {
				st, err = cluster.ReadState(dir)
			}
			if err != nil {
				return err
			}
			fmt.Printf("API server:  %s\nkubeconfig:  %s\nclient host: %s (%s, netns %s)\n", st.APIServer, st.Kubeconfig, st.ClientIP, "outside the cluster", st.Client)
			for _, n := range st.Nodes {
				fmt.Printf("node %s: %s, pods %s, netns %s, agent socket %s, log %s\n", n.Name, n.IP, n.PodCIDR, n.Netns, n.Socket, n.Log)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "Wait this long for the cluster to be up")
	return cmd
}

func execCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "exec <namespace>/<pod> -- <command> [args...]",
		Short: "Run a command inside a pod's network namespace (with its resolv.conf)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, ok := strings.Cut(args[0], "/")
			if !ok {
				ns, name = "default", args[0]
			}
			netns, err := cluster.PodNetns(dir, ns, name)
			if err != nil {
				return err
			}
			c := exec.Command("ip", append([]string{"netns", "exec", netns}, args[1:]...)...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := c.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					os.Exit(ee.ExitCode())
				}
				return err
			}
			return nil
		},
	}
}

func imageCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "image <name> [flags]",
		Short:              "Run a built-in container image (used by the pod runner)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE:               func(_ *cobra.Command, args []string) error { return cluster.RunImage(args) },
	}
}
