# tortie: build, test, lab, bench. `make test` and `make lab` run on a fresh
# Debian machine as root: each first installs what it needs (.ci/setup test|lab,
# quick when all of it is there already).
export PATH := $(PATH):/usr/local/go/bin
GO       ?= go
BIN      ?= $(CURDIR)/bin
VERSION  ?= v0.1.0
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X github.com/tortienet/tortie/internal/buildinfo.Version=$(VERSION) \
            -X github.com/tortienet/tortie/internal/buildinfo.GitCommit=$(COMMIT)
BINARIES := tortiectl tortie tortie-node tortie-controllers

.PHONY: build test test-short vet bench fmt clean setup-test setup-lab

# Static binaries: the CNI plugin is exec'd once per pod, and a dynamically
# linked one spends ~1.5 ms in the loader before main.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(BINARIES))
	ln -sf tortie $(BIN)/tortie-ipam

# The whole suite: unit, datastore conformance (embedded etcd), golden
# output and end-to-end tests. Privileged tiers run when root.
test: setup-test
	$(MAKE) --no-print-directory build vet
	TORTIE_BIN=$(BIN) $(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

bench: build
	TORTIE_BIN=$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x ./bench/...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

# What the tests need (packages, the CNI tools, qemu and a kernel for the
# IP-in-IP VM test); what the lab needs (no kernel, no qemu). Output goes to
# /tmp/tortie-setup.log.
setup-test:
	@bash .ci/setup test
setup-lab:
	@bash .ci/setup lab

# The namespace lab: 3 nodes with 2 pods each, left running after the status
# and the pod-to-pod matrix are printed (make fails if a pair that should
# connect does not). LAB names it; `make lab-down` removes it. Root only.
LAB ?= lab
.PHONY: lab lab-down
lab: setup-lab
	@start=$$(date +%s); echo "building $(BIN)/ (the first build takes about two minutes)"; \
	  $(MAKE) --no-print-directory -s build && echo "built in $$(( $$(date +%s) - start ))s"
	@$(BIN)/tortiectl lab down --name $(LAB) >/dev/null 2>&1 || true
	@$(BIN)/tortiectl lab up --name $(LAB) --nodes 3 --pods-per-node 2 --must-connect

lab-down:
	@$(BIN)/tortiectl lab down --name $(LAB)

# --- Kubernetes datastore (issue #14) ---------------------------------------
BINARIES += tortie-controllers

# The test kube-apiserver (cached in /var/cache/tortie; see test/k8s).
.PHONY: kube-apiserver
kube-apiserver:
	test/k8s/build-apiserver.sh
