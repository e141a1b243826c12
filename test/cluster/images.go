package cluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// Built-in images: a pod whose container has no command runs one of these,
// chosen by the image name, inside the pod's namespace. They stand in for the
// images the getting-started guides use.
//
//	http-echo   an HTTP server on every TCP containerPort (default 80) that
//	            answers with the pod's name and the client's address, and a
//	            UDP echo on every UDP containerPort (hashicorp/http-echo,
//	            agnhost, nginx, httpd, echoserver ...)
//	pause       sleeps until stopped (busybox, alpine, curl, netshoot ...
//	            when given no command, as a toolbox to exec into)
const (
	ImageHTTPEcho = "http-echo"
	ImagePause    = "pause"
)

// builtinImage maps a container image to a built-in image.
func builtinImage(image string) (string, bool) {
	name := strings.ToLower(image)
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name, _, _ = strings.Cut(name, ":")
	name, _, _ = strings.Cut(name, "@")
	switch {
	case strings.Contains(name, "echo"), strings.Contains(name, "agnhost"), name == "nginx", name == "httpd", strings.Contains(name, "whoami"):
		return ImageHTTPEcho, true
	case name == "pause", name == "busybox", name == "alpine", strings.Contains(name, "curl"), name == "netshoot", name == "ubuntu", name == "debian":
		return ImagePause, true
	}
	return "", false
}

// containerArgv returns the program a container runs: its command and args
// as local programs, or a built-in image run by the hivenet-box binary.
func containerArgv(boxBin string, c *corev1.Container) ([]string, error) {
	if len(c.Command) > 0 {
		return append(append([]string{}, c.Command...), c.Args...), nil
	}
	img, ok := builtinImage(c.Image)
	if !ok {
		if len(c.Args) > 0 {
			return append([]string{}, c.Args...), nil
		}
		return nil, fmt.Errorf("image %q is not built into hivenet-box and the container has no command", c.Image)
	}
	argv := []string{boxBin, "image", img}
	if img == ImageHTTPEcho {
		for _, p := range c.Ports {
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			argv = append(argv, "--port", fmt.Sprintf("%d/%s", p.ContainerPort, proto))
		}
		for _, a := range c.Args {
			// hashicorp/http-echo's flags.
			if v, ok := strings.CutPrefix(a, "-text="); ok {
				argv = append(argv, "--text", v)
			}
			if v, ok := strings.CutPrefix(a, "-listen=:"); ok {
				argv = append(argv, "--port", v+"/tcp")
			}
		}
	}
	return argv, nil
}

// RunImage runs a built-in image: `hivenet-box image <name> [flags]`.
func RunImage(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: hivenet-box image <http-echo|pause> [flags]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch args[0] {
	case ImagePause:
		<-ctx.Done()
		return nil
	case ImageHTTPEcho:
		return runHTTPEcho(ctx, args[1:])
	}
	return fmt.Errorf("unknown built-in image %q", args[0])
}

type portList []string

func (p *portList) String() string     { return strings.Join(*p, ",") }
func (p *portList) Set(s string) error { *p = append(*p, s); return nil }

func runHTTPEcho(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("http-echo", flag.ContinueOnError)
	var ports portList
	fs.Var(&ports, "port", "port/protocol to serve (repeatable; default 80/tcp)")
	text := fs.String("text", "", "fixed text to answer with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(ports) == 0 {
		ports = portList{"80/tcp"}
	}
	host, _ := os.Hostname()
	if h := os.Getenv("HOSTNAME"); h != "" {
		host = h
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *text != "" {
			fmt.Fprintln(w, *text)
			return
		}
		fmt.Fprintf(w, "hostname=%s client=%s method=%s path=%s\n", host, r.RemoteAddr, r.Method, r.URL.Path)
	})
	errc := make(chan error, len(ports))
	for _, p := range ports {
		num, proto, _ := strings.Cut(p, "/")
		if _, err := strconv.Atoi(num); err != nil {
			return fmt.Errorf("bad port %q", p)
		}
		switch proto {
		case "udp":
			pc, err := net.ListenPacket("udp", ":"+num)
			if err != nil {
				return err
			}
			go func() {
				buf := make([]byte, 65535)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						errc <- err
						return
					}
					_, _ = pc.WriteTo(buf[:n], from)
				}
			}()
		default:
			ln, err := net.Listen("tcp", ":"+num)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: handler}
			go func() { errc <- srv.Serve(ln) }()
			go func() { <-ctx.Done(); srv.Close() }()
		}
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}
