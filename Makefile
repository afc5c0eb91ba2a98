# Playmark: the two commands are `make run` and `make test`.
GO      ?= go
BIN     := bin/playmark
# The version lives in FyneApp.toml (the bundle, the .deb and --version agree).
VERSION ?= $(shell sed -n 's/^Version = "\(.*\)"/\1/p' FyneApp.toml)
LDFLAGS := -X playmark/app.Version=$(VERSION)

.PHONY: run build test test-race vet deps test-deps bench fuzz demo package package-test clean

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
	@echo "go vet ./... and gofmt"
	@$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

## test: install what tests need, vet, then the whole suite: each package
## as it finishes, a line a minute while some still run, failures in full,
## and at the end every skipped test and why (.ci/testsum.go). The packages
## in RACE_PKGS run under the race detector. sync/engine and ui are not in
## it yet: under -race their SQLite (modernc, pure Go, all instrumented) runs
## many times slower, the engine's package took over 10 minutes and the
## deadline and responsiveness tests failed on their timings (make test-race
## runs them so).
RACE_PKGS := playmark/sync/live playmark/sync/webhook playmark/sync/state playmark/sync/backend/simulate playmark/sync/backend playmark/sync/backend/plex playmark/sync/backend/mediabrowser
test: test-deps vet
	@echo "go test ./... (each package as it finishes; skipped tests are listed at the end; -race for $(RACE_PKGS))"
	@export LANG=$${LANG:-C.UTF-8}; { \
	  $(GO) test -json -count=1 -timeout 30m -race $(RACE_PKGS); \
	  $(GO) test -json -count=1 -timeout 30m $$($(GO) list ./... | grep -vxF $(patsubst %,-e %,$(RACE_PKGS))); \
	} 2>&1 | $(GO) run .ci/testsum.go

## test-race: the engine and the window's packages under the race detector
## (slow: see test)
test-race: test-deps
	@LANG=$${LANG:-C.UTF-8} $(GO) test -json -count=1 -timeout 45m -race ./sync/engine/ ./ui/ 2>&1 | $(GO) run .ci/testsum.go

## bench: the scale benchmarks (bin/playmark-bench, built from ./bench, apart
## from the shipped binary) against simulated servers over loopback (under
## 15 minutes; BENCHFLAGS=--quick for a one-minute smoke run; also --only,
## --profile DIR, --out DIR), then the engine's go test benchmarks; the table
## is printed and saved in bench/results/
bench: test-deps build
	$(GO) build -ldflags "-X main.Version=$(VERSION)" -o bin/playmark-bench ./bench
	./bin/playmark-bench --playmark $(BIN) --out bench/results $(BENCHFLAGS)
	@echo "go test -bench ./sync/engine/ > bench/results/engine-latest.txt"
	@$(GO) test -run '^$$' -bench . -benchmem -count 1 ./sync/engine/ > bench/results/engine-latest.txt; \
	  status=$$?; cat bench/results/engine-latest.txt; exit $$status

## demo: three simulated servers and the app, in a throwaway config dir
demo: deps build
	./$(BIN) demo

## fuzz: run each fuzz target for a while (FUZZTIME, default 30s); a bare
## "context deadline exceeded" at the end of -fuzztime (a Go 1.26 fuzzing
## bug, golang/go#75804) is run again once (.ci/fuzz-one)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; GO=$(GO) .ci/fuzz-one $$pkg $$f $(FUZZTIME) || exit 1; \
	  done; \
	done

## package: the fyne bundle (dist/Playmark.tar.xz) and a .deb built with dpkg-deb
FYNE ?= $(shell command -v fyne 2>/dev/null || echo $$($(GO) env GOPATH)/bin/fyne)
package: deps
	$(GO) build -ldflags "$(LDFLAGS) -s -w" -o $(BIN) .
	@test -x "$(FYNE)" || GOFLAGS= $(GO) install fyne.io/tools/cmd/fyne@v1.7.4
	mkdir -p dist
	@# fyne package bumps Build in FyneApp.toml: put it back, so that a build leaves the tree clean.
	cp FyneApp.toml dist/.FyneApp.toml.keep
	"$(FYNE)" package --os linux --release --name Playmark --app-id io.playmark.Playmark --icon assets/icon.png --app-version $(VERSION); \
	  status=$$?; mv -f dist/.FyneApp.toml.keep FyneApp.toml; exit $$status
	mv -f Playmark.tar.xz dist/
	packaging/build-deb $(VERSION)

## package-test: install the .deb, start it under Xvfb, remove it (root)
package-test: package
	.ci/package-test

clean:
	rm -rf bin dist

## headless: static binaries with every command but the window (no Fyne,
## GLFW or systray; CGO_ENABLED=0), for a NAS or a Raspberry Pi:
## dist/playmark-headless-linux-{amd64,arm64}
.PHONY: headless test-headless windows test-windows
HEADLESS_ARCHS ?= amd64 arm64
headless:
	mkdir -p dist
	@for arch in $(HEADLESS_ARCHS); do \
	  echo "CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -tags headless -o dist/playmark-headless-linux-$$arch ."; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -tags headless -trimpath -ldflags "$(LDFLAGS) -s -w" -o dist/playmark-headless-linux-$$arch . || exit 1; \
	done

## test-headless: the headless build's tests, then both binaries through the
## command-line sync scenario (arm64 under qemu-user-static), with LANG=C
test-headless: headless
	@.ci/deps-platform headless
	CGO_ENABLED=0 $(GO) vet -tags headless ./app/ ./sync/... ./packaging/...
	@# macOS and Windows stay possible: every package that needs no cgo vets there
	GOOS=darwin CGO_ENABLED=0 $(GO) vet -tags headless $$($(GO) list ./... | grep -v '/ui$$')
	GOOS=windows CGO_ENABLED=0 $(GO) vet -tags headless $$($(GO) list ./... | grep -v '/ui$$')
	LANG=$${LANG:-en_US.UTF-8} CGO_ENABLED=0 $(GO) test -tags headless -count=1 -run 'Headless|Version|Desktop' ./app/
	packaging/test-headless dist/playmark-headless-linux-amd64
	packaging/test-headless dist/playmark-headless-linux-arm64 qemu-aarch64-static

## windows: cross-build dist/playmark.exe (mingw-w64, cgo for GLFW; icon and
## version info embedded) and the installer dist/Playmark-Setup-$(VERSION).exe (NSIS)
WINBUILD ?= $(shell sed -n 's/^Build = \([0-9]*\)/\1/p' FyneApp.toml)
windows:
	@.ci/deps-platform windows
	GO=$(GO) packaging/windows/build $(VERSION) $(WINBUILD)

## test-windows: make windows, then the .exe and the installer under Wine and
## Xvfb (.ci/test-windows: the CLI scenario, the window, the single-instance
## guard, the tray, the installer and uninstaller)
test-windows: windows
	@.ci/deps-platform wine
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc $(GO) vet ./...
	.ci/test-windows $(VERSION)
