# ferry's two commands are `make demo` and `make test`; both do their own
# set-up (Debian packages for the lab, the ferry binary).
SHELL := /bin/bash
GO ?= go
BIN := bin/ferry
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X ferry/internal/cli.Version=$(VERSION)

.PHONY: all build lab-deps ui-deps test test-unit test-lab demo lab-up lab-down fuzz vet clean

all: build

# bin/ferry carries the lab (-tags lab) for the demo, the tests and the
# benchmark; the Debian package's ferry (scripts/deb.sh) does not.
build:
	$(GO) build -tags lab -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ferry

lab-deps:
	scripts/lab-deps.sh

# Debian's chromium, for the web UI's browser tests.
ui-deps:
	scripts/ui-deps.sh

vet:
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) vet -tags lab ./...

# Every test, unit and lab, with PostgreSQL for the store's second driver.
# Lab tests bring up real hosts at fixed addresses, so packages run one at a
# time (-p 1); FERRY_TEST_DISALLOW_SKIP turns a skipped lab test into a
# failure.
test: lab-deps ui-deps vet
	FERRY_TEST_DISALLOW_SKIP=1 scripts/test-postgres.sh \
		$(GO) test -tags lab -p 1 -count=1 -timeout 25m ./...
	$(MAKE) bench-smoke

test-unit:
	$(GO) test -count=1 ./...

# The store's conformance suite on both drivers, SQLite and a throwaway
# PostgreSQL.
.PHONY: test-store
test-store:
	FERRY_TEST_DISALLOW_SKIP=1 scripts/test-postgres.sh $(GO) test -count=1 ./internal/store/

# A short fuzz run of every fuzz target.
fuzz:
	scripts/fuzz.sh 10s

demo: lab-deps build
	scripts/demo.sh

lab-up: lab-deps build
	$(BIN) lab up

# How fast ferry moves a site against rsync and mariadb-dump by hand, and
# how its control plane holds up (docs/performance.md): a lab of its own,
# taken down at the end, a table on stdout and the JSON in bench/results/.
# BENCH_FLAGS passes sizes (go run ./bench -h lists them). PostgreSQL is
# FERRY_TEST_PG_URL's, or a throwaway one.
.PHONY: bench bench-smoke
BENCH_FLAGS ?=
BENCH_PG = $(if $(FERRY_TEST_PG_URL),,scripts/test-postgres.sh)
bench: lab-deps
	$(GO) build -o bin/ferry-bench ./bench
	$(BENCH_PG) bin/ferry-bench -label full -out bench/results/full.json $(BENCH_FLAGS)

# The benchmark end to end with tiny sizes, in well under two minutes: it
# checks that the benchmark works, never how fast anything is.
bench-smoke: lab-deps
	$(GO) build -o bin/ferry-bench ./bench
	$(BENCH_PG) bin/ferry-bench -label smoke -files 200 -tree-mb 4 -db-mb 4 -tables 3 -runs 1 -freeze-sizes 0 \
		-items 50 -clients 4 -load-time 1s \
		-fleet-nodes 20 -fleet-orders 200 -fleet-items 2000 -fleet-changes 20 -out bench/results/smoke.tmp

lab-down: build
	$(BIN) lab down

clean:
	rm -rf bin

# The Debian package, dist/ferry_<version>_<arch>.deb (scripts/deb.sh;
# docs/operations.md).
.PHONY: deb man
deb:
	scripts/deb.sh dist

# The man pages, generated from the commands, in dist/man.
man: build
	$(BIN) man dist/man
