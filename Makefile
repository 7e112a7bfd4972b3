# tortie: build, test, lab, bench. Everything runs on a fresh machine as root
# after .ci/setup has installed the system packages.
GO       ?= go
BIN      ?= $(CURDIR)/bin
VERSION  ?= v0.1.0
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X github.com/tortienet/tortie/internal/buildinfo.Version=$(VERSION) \
            -X github.com/tortienet/tortie/internal/buildinfo.GitCommit=$(COMMIT)
BINARIES := tortiectl tortie tortie-node

.PHONY: build test test-short vet bench fmt clean

# Static binaries: the CNI plugin is exec'd once per pod, and a dynamically
# linked one spends ~1.5 ms in the loader before main.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(BINARIES))
	ln -sf tortie $(BIN)/tortie-ipam

# The whole suite: unit, datastore conformance (embedded etcd), golden
# output and end-to-end tests. Privileged tiers run when root.
test: build vet
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

# The namespace lab: 3 nodes with 2 pods each, left running after the status
# and the pod-to-pod matrix are printed (make fails if a pair that should
# connect does not). LAB names it; `make lab-down` removes it. Root only.
LAB ?= lab
.PHONY: lab lab-down
lab:
	bash .ci/setup
	$(MAKE) build
	$(BIN)/tortiectl lab down --name $(LAB)
	$(BIN)/tortiectl lab up --name $(LAB) --nodes 3 --pods-per-node 2
	$(BIN)/tortiectl lab status --name $(LAB)
	$(BIN)/tortiectl lab ping --name $(LAB)

lab-down:
	$(BIN)/tortiectl lab down --name $(LAB)
