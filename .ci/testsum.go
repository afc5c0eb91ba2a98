// Command testsum reads `go test -json` on stdin and shows progress as it
// happens: one line per package as it finishes, a line every minute while
// packages are still running, the output of each failed test, and at the
// end a summary with every skipped test and why (a skip is never silent).
// It exits 1 when a package or test failed or the stream had no result.
//
//	go test -json ./... | go run .ci/testsum.go
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type key struct{ pkg, test string }

func main() {
	var (
		mu       sync.Mutex
		running  = map[string]time.Time{} // package -> first event
		current  = map[string]string{}    // package -> test running last
		output   = map[key][]string{}
		skipped  []string
		failed   []string
		passed   int
		noTests  int
		failPkgs int
		packages int
	)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			mu.Lock()
			var names []string
			for p := range running {
				n := short(p)
				if c := current[p]; c != "" {
					n += " (" + c + ")"
				}
				names = append(names, n)
			}
			mu.Unlock()
			sort.Strings(names)
			if len(names) > 0 {
				fmt.Printf("   … %s: still running %s\n", elapsed(time.Since(start)), strings.Join(names, ", "))
			}
		}
	}()

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		line := in.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Println(string(line)) // build errors and the like
			continue
		}
		mu.Lock()
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "start":
			running[ev.Package] = time.Now()
		case "run":
			if ev.Test != "" && !strings.Contains(ev.Test, "/") {
				current[ev.Package] = ev.Test
			}
		case "output":
			if len(output[k]) < 400 {
				output[k] = append(output[k], ev.Output)
			}
		case "skip":
			if ev.Test != "" {
				why := lastLine(output[k], "--- SKIP")
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", short(ev.Package), ev.Test, why))
			} else {
				delete(running, ev.Package)
				packages++
				noTests++
				fmt.Printf("  -  %-44s (no tests)\n", short(ev.Package))
			}
			delete(output, k)
		case "pass":
			if ev.Test == "" {
				delete(running, ev.Package)
				packages++
				passed++
				fmt.Printf("  ok %-44s %s\n", short(ev.Package), elapsed(secs(ev.Elapsed)))
			}
			delete(output, k)
		case "fail":
			if ev.Test != "" {
				failed = append(failed, short(ev.Package)+" "+ev.Test)
				fmt.Printf("--- FAIL %s %s\n%s", short(ev.Package), ev.Test, strings.Join(output[k], ""))
			} else {
				delete(running, ev.Package)
				packages++
				if len(output[k]) > 0 {
					fmt.Print(strings.Join(output[k], ""))
				}
				fmt.Printf("FAIL %-44s %s\n", short(ev.Package), elapsed(secs(ev.Elapsed)))
				failPkgs++
				failed = append(failed, short(ev.Package))
			}
			delete(output, k)
		}
		mu.Unlock()
	}
	close(done)

	fmt.Printf("\n%d packages in %s: %d passed, %d without tests, %d failed", packages, elapsed(time.Since(start)), passed, noTests, failPkgs)
	fmt.Printf(", %d tests skipped\n", len(skipped))
	for _, s := range skipped {
		fmt.Println("  skipped:", s)
	}
	if len(failed) > 0 {
		fmt.Println("FAILED:", strings.Join(failed, ", "))
		os.Exit(1)
	}
	if packages == 0 {
		fmt.Println("FAILED: no test results (see the build errors above)")
		os.Exit(1)
	}
}

// short drops the module name: "sync/engine".
func short(pkg string) string {
	if _, rest, ok := strings.Cut(pkg, "/"); ok {
		return rest
	}
	return pkg
}

// lastLine is the test's last output line before its "--- SKIP", which is
// the t.Skip message.
func lastLine(lines []string, stop string) string {
	var last string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, stop) || strings.HasPrefix(l, "=== ") || l == "" {
			continue
		}
		last = l
	}
	if i := strings.Index(last, ".go:"); i >= 0 {
		if j := strings.Index(last[i:], ": "); j >= 0 {
			last = last[i+j+2:]
		}
	}
	if last == "" {
		return "(no reason given)"
	}
	return last
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func elapsed(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
