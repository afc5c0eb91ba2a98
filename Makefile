# Playmark: the two commands are `make run` and `make test`.
GO      ?= go
BIN     := bin/playmark
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X playmark/app.Version=$(VERSION)

.PHONY: run build test vet deps test-deps bench fuzz demo clean

## run: install what is missing, build, start the desktop app
run: deps build
	./$(BIN)

## build: build bin/playmark
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

deps:
	@.ci/deps build

test-deps:
	@.ci/deps test

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

## test: install what tests need, vet, then the whole suite
test: test-deps vet
	LANG=$${LANG:-en_US.UTF-8} $(GO) test -count=1 -timeout 30m ./...

## demo: three simulated servers and the app, in a throwaway config dir
demo: deps build
	./$(BIN) demo

## fuzz: run each fuzz target for a while (FUZZTIME, default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin dist
