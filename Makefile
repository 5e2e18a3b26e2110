# Spine — build, check and test. `make test` is what CI runs (.ci/run).
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
SERVICES    := scripts/services.sh
# Services are started by `make test`; the addresses reach the tests through
# the SPINE_TEST_* variables that `scripts/services.sh env` prints.
WITH_SERVICES = eval "$$($(SERVICES) env)" &&

.PHONY: all build test check fmt-check vet staticcheck generate services services-down bench fuzz

all: build

build:
	$(GO) build ./...

## test: every check, the real services, and the whole suite with -race.
## The transport packages restart Kafka and Redis mid-test (the broker-restart
## conformance case), so they run after everything else that uses those
## services, and together: each restarts only the service it alone uses.
RESTARTING := ./bus/kafka ./bus/redisstream
test: check services
	$(WITH_SERVICES) $(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e '/bus/kafka$$' -e '/bus/redisstream$$')
	$(WITH_SERVICES) $(GO) test -race -count=1 $(RESTARTING)

## check: formatting, vet, staticcheck, generated code and the schema gate.
check: fmt-check vet staticcheck
	$(GO) run ./cmd/spine schema check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>&1); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

generate:
	$(GO) generate ./...

services:
	$(SERVICES) up

services-down:
	$(SERVICES) down

## bench: the benchmarks recorded in docs/benchmarks.md.
bench: services
	$(WITH_SERVICES) $(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: a short run of every fuzz target (FUZZTIME=30s for longer).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
