# hivenet: build, test, benchmark, generate, lint, demo.
# Run as root on Debian: `make demo` runs hivenet, `make test` runs the tests.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS   := -X github.com/hivenet/hivenet/cells/cell.Version=$(VERSION)
BINARIES  := hivenet-agent hivenet-operator hivenet hivenet-cni
# Debian packages the build, tests and generation need; installed when missing.
DEB_PKGS  := clang-19 llvm-19 libbpf-dev bpftool iproute2 iptables nftables ethtool util-linux
TEST_TIMEOUT ?= 40m
DEMO_NETNS := hivenet-demo
DEMO_DIR   := /run/hivenet-demo

.PHONY: all build test bench generate generate-check lint deps demo demo-down clean k8s-bins

all: build

# deps installs the Debian packages above if any is missing (needs root).
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/hivenet-agent ./daemon
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/hivenet-operator ./operator
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/hivenet ./cli
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/hivenet-cni ./cni

# The Kubernetes control plane for the cluster-in-a-box, built once from the Go
# module proxy and cached in ~/.cache/hivenet (minutes cold, instant warm).
k8s-bins:
	nice -n 5 ./test/k8sbin/build.sh

test: deps k8s-bins
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./... | tee bench.out

generate: deps
	$(GO) generate ./...

# generate-check regenerates everything and fails if the committed output differs.
generate-check: generate
	@if [ -n "$$(git status --porcelain -- bpf cells)" ]; then \
		echo "generated files are stale; run 'make generate' and commit:"; \
		git status --porcelain -- bpf cells; git diff --stat -- bpf cells; exit 1; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt wants to change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 ./...

# demo: until the cluster-in-a-box lands, start an agent with its default
# configuration in a fresh network namespace and show it healthy.
demo: deps build demo-down
	ip netns add $(DEMO_NETNS)
	ip -n $(DEMO_NETNS) link set lo up
	mkdir -p $(DEMO_DIR)
	nsenter --net=/var/run/netns/$(DEMO_NETNS) -- $(BIN)/hivenet-agent --socket-path $(DEMO_DIR)/hivenet.sock \
		--bpf-root /sys/fs/bpf/$(DEMO_NETNS) --state-dir $(DEMO_DIR)/state --enable-k8s=false \
		>$(DEMO_DIR)/agent.log 2>&1 & echo $$! > $(DEMO_DIR)/agent.pid
	$(BIN)/hivenet --socket $(DEMO_DIR)/hivenet.sock status --wait --wait-duration 60s \
		|| { cat $(DEMO_DIR)/agent.log; exit 1; }
	@echo
	@echo "hivenet-agent is running in network namespace $(DEMO_NETNS) (pid $$(cat $(DEMO_DIR)/agent.pid)), log in $(DEMO_DIR)/agent.log."
	@echo "Try:  $(BIN)/hivenet --socket $(DEMO_DIR)/hivenet.sock status --verbose"
	@echo "      $(BIN)/hivenet-agent hive"
	@echo "Stop: make demo-down"

demo-down:
	@if [ -f $(DEMO_DIR)/agent.pid ]; then \
		pid=$$(cat $(DEMO_DIR)/agent.pid); kill $$pid 2>/dev/null || true; \
		for i in $$(seq 50); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
		rm -f $(DEMO_DIR)/agent.pid; fi
	@ip netns del $(DEMO_NETNS) 2>/dev/null || true
	@rm -rf /sys/fs/bpf/$(DEMO_NETNS)

clean:
	rm -rf $(BIN) bench.out
