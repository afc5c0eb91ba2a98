package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// labCode matches a symbol of the benchmark harness or of test code: the
// bench command, the testing packages, Fyne's test driver, the
// conformance suite. (internal/testlog is the standard library's own,
// linked by package os into every program.)
var labCode = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])(playmark/bench|testing|fyne\.io/fyne/v2/test|playmark/sync/backend/backendtest)[./]`)

// The shipped binaries (the desktop build, as make build and make package
// make it, and the headless build) link no benchmark or test code: the
// lab stays out of what users run. Checked twice: the packages the build
// imports (go list -deps) and the symbols it links (go tool nm). The simulators are linked on purpose
// (playmark demo, playmark simulate).
func TestShippedBinaryLinksNoLabCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary (-short)")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, b := range []struct {
		name string
		env  []string
		args []string
	}{
		{"desktop", nil, nil},
		{"headless", []string{"CGO_ENABLED=0"}, []string{"-tags", "headless"}},
	} {
		t.Run(b.name, func(t *testing.T) {
			// The import graph: what the binary could link, inlined or
			// not.
			list := exec.Command(goTool, slices.Concat([]string{"list", "-deps"}, b.args, []string{"."})...)
			list.Env = append(os.Environ(), b.env...)
			deps, err := list.Output()
			if err != nil {
				t.Fatalf("go list -deps: %v", err)
			}
			for pkg := range strings.Lines(string(deps)) {
				if pkg = strings.TrimSpace(pkg); labCode.MatchString(pkg + ".") {
					t.Errorf("the %s binary imports %s", b.name, pkg)
				}
			}

			// The symbol table: what it does link.
			bin := filepath.Join(t.TempDir(), "playmark")
			build := exec.Command(goTool, slices.Concat([]string{"build"}, b.args, []string{"-o", bin, "."})...)
			build.Env = append(os.Environ(), b.env...)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := exec.Command(goTool, "tool", "nm", bin).Output()
			if err != nil {
				t.Fatalf("go tool nm: %v", err)
			}
			var found []string
			n := 0
			for line := range strings.Lines(string(out)) {
				f := strings.Fields(line)
				if len(f) < 3 {
					continue
				}
				n++
				if name := strings.Join(f[2:], " "); labCode.MatchString(name) {
					found = append(found, name)
				}
			}
			if n < 1000 {
				t.Fatalf("go tool nm listed %d symbols: is the binary stripped?", n)
			}
			if len(found) > 0 {
				if len(found) > 20 {
					found = append(found[:20], "...")
				}
				t.Errorf("the %s binary links benchmark or test code (%d symbols), e.g.:\n%s", b.name, len(found), strings.Join(found, "\n"))
			}
		})
	}
}
