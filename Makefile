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
BOX_DIR    := /var/run/hivenet-box

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
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/hivenet-box ./test/cmd/hivenet-box

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
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# demo: the cluster-in-a-box (real kube-apiserver, 2 nodes as network
# namespaces each running hivenet-agent, pods wired by hivenet-cni), then the
# getting-started walkthrough: a client pod curling a server behind a Service.
demo: deps build k8s-bins demo-down
	@mkdir -p $(BOX_DIR)
	setsid $(BIN)/hivenet-box up --dir $(BOX_DIR) >$(BOX_DIR)/box.log 2>&1 </dev/null &
	$(BIN)/hivenet-box demo --dir $(BOX_DIR) || { echo "--- box log:"; tail -40 $(BOX_DIR)/box.log; exit 1; }

demo-down:
	@if [ -x $(BIN)/hivenet-box ]; then $(BIN)/hivenet-box down --dir $(BOX_DIR); fi

clean:
	rm -rf $(BIN) bench.out
