# c1m — build, lint, test, bench. Tool versions are pinned here.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS        := ./...

.PHONY: all fmt lint test test-deps test-go bench bench-quick fuzz

all: fmt lint test

fmt:
	gofmt -l -w .

lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

# test installs what the suites need on a fresh machine (Debian packages,
# pinned npm packages), then runs the Go tests with the race detector. The
# interop suites (Python websockets, Node ws, headless Chromium) are Go tests
# that drive those clients, so they run here too.
test: test-deps test-go

test-deps:
	bash scripts/test-deps.sh

test-go:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# fuzz runs every codec fuzz target for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	@for f in $$($(GO) test -list 'Fuzz.*' ./codec | grep ^Fuzz); do \
		echo "== $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./codec || exit 1; \
	done
