# ferry's two commands are `make demo` and `make test`; both do their own
# set-up (Debian packages for the lab, the ferry binary).
SHELL := /bin/bash
GO ?= go
BIN := bin/ferry
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X ferry/internal/cli.Version=$(VERSION)

.PHONY: all build lab-deps ui-deps test test-unit test-lab demo lab-up lab-down fuzz vet clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ferry

lab-deps:
	scripts/lab-deps.sh

# Debian's chromium, for the web UI's browser tests.
ui-deps:
	scripts/ui-deps.sh

vet:
	$(GO) vet ./...
	$(GO) vet -tags lab ./...

# Every test, unit and lab, with PostgreSQL for the store's second driver.
# Lab tests bring up real hosts at fixed addresses, so packages run one at a
# time (-p 1); FERRY_TEST_DISALLOW_SKIP turns a skipped lab test into a
# failure.
test: lab-deps ui-deps vet
	FERRY_TEST_DISALLOW_SKIP=1 scripts/test-postgres.sh \
		$(GO) test -tags lab -p 1 -count=1 -timeout 25m ./...

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
