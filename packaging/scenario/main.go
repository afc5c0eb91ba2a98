// Command scenario runs the command-line sync scenario against a built
// Playmark program, however it has to be started: the headless Linux
// binary, the linux/arm64 one under qemu-user-static, or playmark.exe
// under Wine. It is how make test-headless and make test-windows check a
// binary that go test cannot run in-process.
//
//	go run ./packaging/scenario [--sim bin/playmark] [--keyring] [--] PROGRAM [ARGS...]
//
// Three simulated servers (Plex, Jellyfin, Emby) run natively (--sim, a
// Linux playmark: `playmark simulate`); the program under test, PROGRAM
// ARGS followed by its own arguments, then: prints its version; adds the
// three as backends with export on; syncs (which must write to the
// servers); syncs again (which must find nothing to do and write
// nothing); lists the history and the status. Every step must exit 0
// and write nothing to stderr (no locale or toolkit noise). With
// --keyring, backend list must show every token in the system keyring.
// Each step's time is printed.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

func main() {
	sim := flag.String("sim", "", "a native playmark to run the simulated servers (default: the program itself)")
	items := flag.Int("items", 300, "items per simulated server")
	dir := flag.String("config-dir", "", "config dir for the program (default: a new temp dir)")
	keyring := flag.Bool("keyring", false, "require the tokens to be in the system keyring")
	flag.Parse()
	prog := flag.Args()
	if len(prog) == 0 {
		fmt.Fprintln(os.Stderr, "usage: scenario [--sim PLAYMARK] [--keyring] PROGRAM [ARGS...]")
		os.Exit(2)
	}
	if *sim == "" {
		*sim = prog[0]
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "playmark-scenario-")
		if err != nil {
			fail("%v", err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := run(*sim, prog, *dir, *items, *keyring); err != nil {
		fail("%v", err)
	}
	fmt.Println("scenario: PASS")
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "scenario: FAIL: "+format+"\n", a...)
	os.Exit(1)
}

// run is the scenario; the simulators stop when it returns.
func run(sim string, prog []string, dir string, items int, keyring bool) error {
	pm := func(step string, args ...string) (string, error) {
		start := time.Now()
		cmd := exec.Command(prog[0], append(append(prog[1:], "--config-dir", dir), args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		fmt.Printf("scenario: %-22s %6.2f s\n", step, time.Since(start).Seconds())
		if err != nil {
			return "", fmt.Errorf("%s: %s %v: %w\nstdout:\n%s\nstderr:\n%s", step, strings.Join(prog, " "), args, err, stdout.String(), stderr.String())
		}
		if stderr.Len() > 0 {
			return "", fmt.Errorf("%s: wrote to stderr:\n%s", step, stderr.String())
		}
		return stdout.String(), nil
	}

	out, err := pm("--version", "--version")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(out, "playmark ") {
		return fmt.Errorf("--version printed %q", out)
	}
	fmt.Printf("scenario: %s", out)

	var adds [][]string
	for _, kind := range []string{"plex", "jellyfin", "emby"} {
		add, stop, err := simulate(sim, kind, items)
		if err != nil {
			return err
		}
		defer stop()
		adds = append(adds, add)
	}
	for _, add := range adds {
		if _, err := pm("backend add "+add[2], append(add, "--export", "on")...); err != nil {
			return err
		}
	}
	if keyring {
		out, err := pm("backend list", "backend", "list")
		if err != nil {
			return err
		}
		if n := strings.Count(out, "(keyring)"); n != len(adds) {
			return fmt.Errorf("backend list shows %d of %d tokens in the keyring:\n%s", n, len(adds), out)
		}
	}

	if _, err := pm("sync", "sync", "--yes"); err != nil {
		return err
	}
	first, err := lastRun(pm)
	if err != nil {
		return err
	}
	if first.Status != "ok" || first.written() == 0 {
		return fmt.Errorf("the first sync: status %q, %d written; want ok and some", first.Status, first.written())
	}
	out, err = pm("second sync", "sync")
	if err != nil {
		return err
	}
	second, err := lastRun(pm)
	if err != nil {
		return err
	}
	if second.ID == first.ID || second.Status != "ok" || second.written() != 0 || second.changed() != 0 {
		return fmt.Errorf("the second sync (run %d after %d): status %q, %d written, %d changed locally; want ok, 0, 0\n%s",
			second.ID, first.ID, second.Status, second.written(), second.changed(), out)
	}
	fmt.Printf("scenario: first sync wrote %d, the second wrote nothing\n", first.written())
	out, err = pm("history", "history")
	if err != nil {
		return err
	}
	if !strings.Contains(out, "sync") {
		return fmt.Errorf("history lists no sync:\n%s", out)
	}
	if _, err := pm("status", "status"); err != nil {
		return err
	}
	return nil
}

// runRecord is what the scenario reads of `playmark history --json`.
type runRecord struct {
	ID       int64
	Status   string
	Backends []struct {
		Phase, Backend         string
		Added, Changed, Failed int
	}
}

// written is how many changes the run wrote to the servers.
func (r runRecord) written() int {
	n := 0
	for _, b := range r.Backends {
		if b.Phase == "export" {
			n += b.Added + b.Changed
		}
	}
	return n
}

// changed is how many local changes the run's imports made.
func (r runRecord) changed() int {
	n := 0
	for _, b := range r.Backends {
		if b.Phase == "import" {
			n += b.Added + b.Changed
		}
	}
	return n
}

func lastRun(pm func(string, ...string) (string, error)) (runRecord, error) {
	out, err := pm("history --json", "history", "--json", "--limit", "1")
	if err != nil {
		return runRecord{}, err
	}
	var runs []runRecord
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		return runRecord{}, fmt.Errorf("history --json: %w\n%s", err, out)
	}
	if len(runs) == 0 {
		return runRecord{}, errors.New("history --json lists no run")
	}
	return runs[0], nil
}

// simulate starts `sim simulate --type kind` and returns the arguments of
// the backend add line it prints, and how to stop it.
func simulate(sim, kind string, items int) ([]string, func(), error) {
	cmd := exec.Command(sim, "simulate", "--type", kind, "--items", fmt.Sprint(items))
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting the simulated %s server: %w", kind, err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				stop()
				return nil, nil, fmt.Errorf("the simulated %s server ended without printing its backend add line", kind)
			}
			if rest, ok := strings.CutPrefix(line, "Add it:  playmark "); ok {
				go func() {
					for range lines { // keep its stdout drained
					}
				}()
				return strings.Fields(rest), stop, nil
			}
		case <-timeout:
			stop()
			return nil, nil, fmt.Errorf("the simulated %s server printed no backend add line in 30 s", kind)
		}
	}
}
