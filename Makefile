# c1m — build, lint, test, bench. Tool versions are pinned here.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS        := ./...

.PHONY: all fmt lint test test-deps test-go test-cluster test-bench gobench bench bench-quick bench-million bench-cluster fuzz soak

all: fmt lint test

fmt:
	gofmt -l -w .

lint:
	@out=$$(gofmt -l . | grep -v node_modules); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	cd bench && $(GO) run $(STATICCHECK) ./...

# test installs what the suites need on a fresh machine (Debian packages,
# pinned npm packages), then runs the Go tests with the race detector. The
# interop suites (Python websockets, Node ws, Chromium, Firefox, WebKit) are
# Go tests that drive those clients, so they run here too.
test: test-deps test-go test-cluster test-bench

test-deps:
	bash scripts/test-deps.sh

test-go:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# The cluster tests at full size (3,000 clients over three nodes and a
# NATS server) without the race detector, which slows their clients too
# much; test-go runs them smaller with it.
test-cluster:
	$(GO) test -count=1 -timeout 10m -run 'TestCluster' ./broker ./cmd/c1m

# The bench module (load generator, peers) builds, vets and passes its
# unit tests; the measurements themselves are `make bench`.
test-bench:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd bench/peers && $(GO) vet ./...

# Go benchmarks beside the code (codec, session).
gobench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Side-by-side measurements of c1m and its peers, explained in
# bench/README.md: bench-quick in a few minutes at 2,000 connections, bench
# at 19,000. Running c1m at a million connections: tuning.md.
bench-quick:
	$(MAKE) -C bench bench-quick

bench:
	$(MAKE) -C bench bench

# soak runs c1m for DURATION under 19,000 connections (18,000 checked for
# every publication, 1,000 reconnecting each second), slow readers and
# abusive clients, samples heap, RSS, goroutines and open files every 10 s
# into bench/results/soak-*.json and .png, and fails on growth after the
# warm-up or on any loss (bench/README.md).
DURATION ?= 10m
soak:
	$(MAKE) -C bench soak DURATION=$(DURATION)

# Many nodes on one port over NATS: a million connections held at once
# (CONNS, NODES: `make bench-million CONNS=50000 NODES=3` for a quick
# one), and the cluster fan-out and bus cost. bench/README.md.
bench-million:
	$(MAKE) -C bench bench-million

bench-cluster:
	$(MAKE) -C bench bench-cluster

# fuzz runs every fuzz target (the parsers of codec, poller, socketio and
# broker, and the bench's Socket.IO client parser, which is its own
# module) for FUZZTIME each.
FUZZTIME ?= 30s
FUZZPKGS := ./codec ./poller ./socketio ./broker
fuzz:
	@for p in $(FUZZPKGS); do \
		for f in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
			echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done
	@cd bench && for f in $$($(GO) test -list 'Fuzz.*' ./loadgen | grep ^Fuzz); do \
		echo "== bench/loadgen $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./loadgen || exit 1; \
	done
