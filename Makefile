# sockgate: the two commands are `make run` and `make test` (see README.md).

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
ARGS ?=
BENCHTIME ?= 1s
FUZZTIME ?= 10s

.PHONY: run test build bundle node_modules cluster bench fuzz vet clean help

help:
	@echo "make run      start one gateway on :3000 (chat demo at http://localhost:3000/); ARGS='-addr :4000' passes flags"
	@echo "make test     install what the tests need, then vet, go test -race, Node and browser tests"
	@echo "make build    build bin/gateway"
	@echo "make bundle   regenerate web/dist (the committed client bundle) from the pinned npm package"
	@echo "make cluster  redis-server + 3 gateway nodes on 127.0.0.1:3001-3003 (Ctrl-C stops all)"
	@echo "make bench    go benchmarks (BENCHTIME=$(BENCHTIME))"
	@echo "make fuzz     every fuzz target for FUZZTIME=$(FUZZTIME)"

## run: one gateway, in-memory adapter, chat demo at / (the client bundle is
## committed in web/dist: no npm needed)
run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/gateway $(ARGS)

## test: THE test command (CI runs it through .ci/run)
test:
	scripts/test.sh

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/gateway ./cmd/gateway

## bundle: regenerate the committed socket.io-client browser bundle in web/dist
## from the pinned npm package (after changing its version; commit the result)
bundle: node_modules
	$(GO) generate ./web

node_modules:
	@scripts/deps.sh node
	@scripts/node-modules.sh

cluster:
	@scripts/deps.sh redis
	scripts/cluster.sh $(ARGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
