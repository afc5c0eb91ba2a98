package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// Command playmark-bench is the scale benchmarks (make bench), apart from
// the shipped playmark binary, which links none of it. Simulated servers
// run in this process over loopback; every measured import, export and
// floor listing runs in a child process (playmark-bench child ...) with
// its own fresh or prepared config dir, so that its peak RSS is the
// engine's alone. It prints a table and writes it as JSON to --out
// (latest.json and a dated copy). The desktop part starts the built
// playmark binary (--playmark) under a virtual X server.
//
//	go run ./bench [--quick] [--out DIR] [--runs N] [--items N] [--big N]
//	               [--big-runs N] [--big-kind plex|jellyfin|emby] [--idle D]
//	               [--profile DIR] [--only import,export,big,desktop] [--keep]
//	               [--playmark bin/playmark]
func main() {
	c := &cli{stdout: os.Stdout, stderr: os.Stderr}
	if err := c.run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "playmark-bench:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Version is the playmark version the figures are of; make bench sets it
// with -ldflags "-X main.Version=...", as make build sets playmark's.
var Version = "0.1.0-dev"

// cli is one invocation: the driver, or one of its children.
type cli struct {
	stdout, stderr io.Writer
	configDir      string // the children's --config-dir
}

// usageError is a command line that does not parse: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// parse parses args, all flags: a word that is not one is refused.
func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// backends is --backend, which may be given more than once.
type backends []string

func (b *backends) String() string     { return fmt.Sprint(*b) }
func (b *backends) Set(v string) error { *b = append(*b, v); return nil }

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// run dispatches: [--config-dir DIR] child|desktop-probe ..., or the driver.
func (c *cli) run(args []string) error {
	if len(args) >= 2 && args[0] == "--config-dir" {
		c.configDir, args = args[1], args[2:]
	}
	if len(args) > 0 {
		switch args[0] {
		case "child":
			return c.benchChild(args[1:])
		case "desktop-probe":
			return c.benchDesktopProbe(args[1:])
		}
	}
	return c.benchCmd(args)
}

// defaultPlaymark is the playmark binary the desktop part starts: the one
// next to this binary (bin/), else bin/playmark (go run ./bench).
func defaultPlaymark() string {
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), "playmark"); fileSize(p) > 0 {
			return p
		}
	}
	return filepath.Join("bin", "playmark")
}

// benchCmd is the driver.
func (c *cli) benchCmd(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchOptions
	fs.BoolVar(&o.Quick, "quick", false, "")
	fs.StringVar(&o.Out, "out", filepath.Join("bench", "results"), "")
	fs.IntVar(&o.Runs, "runs", 0, "")
	fs.IntVar(&o.Items, "items", 0, "")
	fs.IntVar(&o.Big, "big", 0, "")
	fs.IntVar(&o.BigRuns, "big-runs", 1, "")
	bigKind := fs.String("big-kind", "plex", "")
	fs.DurationVar(&o.Idle, "idle", 0, "")
	fs.StringVar(&o.Profile, "profile", "", "")
	only := fs.String("only", "", "")
	fs.IntVar(&o.PageSize, "page-size", 0, "")
	fs.BoolVar(&o.Keep, "keep", false, "")
	fs.StringVar(&o.Playmark, "playmark", defaultPlaymark(), "")
	if err := parse(fs, args); err != nil {
		return err
	}
	k, err := backend.ParseKind(*bigKind)
	if err != nil {
		return usagef("bench: --big-kind: %v", err)
	}
	o.BigKind = k
	o.defaults()
	o.Parts = map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case "import", "export", "big", "desktop", "household":
			o.Parts[p] = true
		default:
			return usagef("bench: --only: unknown part %q (want import, export, big, desktop, household)", p)
		}
	}
	if o.Runs < 1 || o.BigRuns < 1 || o.Items < 500 || o.Big < 500 {
		return usagef("bench: --runs and --big-runs must be at least 1, --items and --big at least 500")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: finding this binary: %w", err)
	}
	if o.Profile != "" {
		if err := os.MkdirAll(o.Profile, 0o755); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "playmark-bench-")
	if err != nil {
		return err
	}
	if !o.Keep {
		defer os.RemoveAll(tmp)
	}
	b := &bench{self: self, opt: o, tmp: tmp, log: c.stderr,
		res: &benchResults{Started: time.Now().UTC(), Machine: machineInfo(), Options: o}}
	ctx, cancel := signalContext()
	defer cancel()
	busy0, okBusy := machineBusy()
	own0 := ownCPU()
	b.res.LoadAvg[0] = loadavg()
	runErr := b.run(ctx)
	b.res.Seconds = time.Since(b.res.Started).Seconds()
	b.res.LoadAvg[1] = loadavg()
	if busy1, ok := machineBusy(); ok && okBusy && b.res.Seconds > 0 {
		b.res.OtherLoad = max(0, (busy1-busy0-(ownCPU()-own0)).Seconds()/b.res.Seconds)
	}
	b.res.Verdicts()
	printBenchTable(c.stdout, b.res)
	if err := b.res.write(o.Out); err != nil {
		return err
	}
	if o.Keep {
		fmt.Fprintf(c.stderr, "bench: config dirs kept in %s\n", tmp)
	}
	return runErr
}

// benchOptions shape a bench run. Zero values pick the defaults (smaller
// with Quick).
type benchOptions struct {
	Quick    bool            `json:"quick"`
	Out      string          `json:"-"`
	Runs     int             `json:"runs"`
	Items    int             `json:"items"`
	Big      int             `json:"big_items"`
	BigRuns  int             `json:"big_runs"`
	BigKind  backend.Kind    `json:"big_kind"`
	Idle     time.Duration   `json:"-"`
	IdleSecs float64         `json:"idle_seconds"`
	Profile  string          `json:"profile,omitempty"`
	Parts    map[string]bool `json:"-"` // empty: all
	PageSize int             `json:"page_size"`
	Keep     bool            `json:"-"`
	Playmark string          `json:"-"` // the binary the desktop part starts
	Changes  int             `json:"changes"`
}

func (o *benchOptions) defaults() {
	def := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if o.Quick {
				*v = quick
			}
		}
	}
	def(&o.Runs, 3, 1)
	def(&o.Items, 100_000, 10_000)
	def(&o.Big, 1_000_000, 100_000)
	if o.Idle == 0 {
		o.Idle = 60 * time.Second
		if o.Quick {
			o.Idle = 10 * time.Second
		}
	}
	o.IdleSecs = o.Idle.Seconds()
	o.Changes = 100
}

func (o *benchOptions) part(p string) bool { return len(o.Parts) == 0 || o.Parts[p] }

// bench is one run of the driver.
type bench struct {
	self string
	opt  benchOptions
	tmp  string
	log  io.Writer
	res  *benchResults
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(b.log, "bench %s: %s\n", time.Since(b.res.Started).Round(time.Second), fmt.Sprintf(format, a...))
}

func (b *bench) run(ctx context.Context) error {
	var errs []error
	step := func(name string, f func(context.Context) error) {
		if ctx.Err() != nil {
			return
		}
		if err := f(ctx); err != nil {
			b.logf("%s failed: %v", name, err)
			b.res.Errors = append(b.res.Errors, name+": "+err.Error())
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if b.opt.part("import") || b.opt.part("desktop") {
		step("import", b.importScenarios)
	}
	if b.opt.part("export") {
		step("export", b.exportScenarios)
	}
	if b.opt.part("household") {
		step("household", b.householdScenario)
	}
	if b.opt.part("big") {
		step("big", b.bigScenario)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// --- the simulated servers --------------------------------------------

// simWorld is simulated servers of one library, in this process.
type simWorld struct {
	names   []string // backend names, which are the kinds
	servers map[string]simulate.Server
	cat     *simulate.Catalog // the same library, for picking items to change
	perm    []int             // a fixed shuffle of the catalog
	used    int               // items of perm changed so far
}

// startWorld starts one server of each kind with items items of the same
// library (seed 1). watchSeed 0 gives each kind its own play states, as
// playmark simulate does; another value gives them all the same.
func (b *bench) startWorld(items int, kinds []backend.Kind, watchSeed uint64, withCatalog bool) (*simWorld, error) {
	w := &simWorld{servers: map[string]simulate.Server{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for _, k := range kinds {
		w.names = append(w.names, string(k))
		wg.Go(func() {
			srv, err := simulate.Start(k, simulate.StartOptions{Listen: "127.0.0.1:0", Items: items, Seed: 1, WatchSeed: watchSeed, Name: string(k) + " bench"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			w.servers[string(k)] = srv
		})
	}
	if withCatalog {
		w.cat = simulate.Generate(simulate.GenerateOptions{Items: items, Seed: 1})
		w.perm = rand.New(rand.NewPCG(42, 42)).Perm(len(w.cat.Media))
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *simWorld) close() {
	for _, s := range w.servers {
		s.Close()
	}
}

func (w *simWorld) requests() map[string]int64 {
	out := map[string]int64{}
	for name, s := range w.servers {
		out[name] = s.Requests()
	}
	return out
}

// change makes n changes on server name, as if someone watched there
// now: new plays, and every fifth a new resume position instead. Each
// call picks items not changed before, unplayed on every server and
// matchable, so that each is a change of the local state too (a re-play
// of a watched item is not one).
func (w *simWorld) change(name string, n int) int {
	srv := w.servers[name]
	now := time.Now().UTC().Truncate(time.Second)
	done := 0
	for ; done < n && w.used < len(w.perm); w.used++ {
		m := w.cat.Media[w.perm[w.used]]
		if m.Type == backend.Movie && len(m.GUIDs) == 0 {
			continue // no usable id: never matched
		}
		played := false
		for _, s := range w.servers {
			played = played || s.Watch(m.Key).Played
		}
		if played {
			continue
		}
		if done%5 == 4 {
			srv.SetWatch(m.Key, simulate.Watch{LastPlayed: now, Position: (m.Duration / 3).Truncate(time.Second)})
		} else {
			srv.SetWatch(m.Key, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: now})
		}
		done++
	}
	return done
}

func (b *bench) change(w *simWorld, name string) error {
	if got := w.change(name, b.opt.Changes); got < b.opt.Changes {
		return fmt.Errorf("only %d items left to change on %s: use more --items or fewer --runs", got, name)
	}
	return nil
}

// newConfig makes a config dir with the world's servers as backends
// (import full; export as asked).
func (b *bench) newConfig(ctx context.Context, w *simWorld, export bool) (string, error) {
	dir, err := os.MkdirTemp(b.tmp, "cfg-")
	if err != nil {
		return "", err
	}
	st, err := state.Open(ctx, dir)
	if err != nil {
		return "", err
	}
	defer st.Close()
	for _, name := range w.names {
		s := w.servers[name]
		if _, err := st.AddBackend(ctx, state.Backend{Name: name, Kind: backend.Kind(name), URL: s.URL(), Token: s.Token(), UserID: s.UserID(),
			Import: state.ImportFull, Export: export}); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// --- child processes ----------------------------------------------------

// childRun is a finished child: what it reported, and what the driver saw.
type childRun struct {
	childResult
	Wall    float64          `json:"wall"`   // the whole process, seconds
	RSS     int64            `json:"rss"`    // peak RSS by getrusage, bytes
	CPU     float64          `json:"cpu"`    // user + system seconds
	Served  map[string]int64 `json:"served"` // requests each server answered meanwhile
	Profile []string         `json:"profiles,omitempty"`
}

// child runs playmark-bench --config-dir dir child op args... and
// collects its figures. profile, when not "", names the profiles to write
// (profile.cpu.pprof, profile.heap.pprof) in --profile's folder.
func (b *bench) child(ctx context.Context, w *simWorld, dir, op, profile string, args ...string) (childRun, error) {
	argv := []string{"--config-dir", dir, "child", op}
	if b.opt.PageSize > 0 {
		argv = append(argv, "--page-size", strconv.Itoa(b.opt.PageSize))
	}
	var run childRun
	if profile != "" && b.opt.Profile != "" {
		cpu := filepath.Join(b.opt.Profile, profile+".cpu.pprof")
		heap := filepath.Join(b.opt.Profile, profile+".heap.pprof")
		argv = append(argv, "--cpuprofile", cpu, "--memprofile", heap)
		run.Profile = []string{cpu, heap}
	}
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, b.self, argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	var before map[string]int64
	if w != nil {
		before = w.requests()
	}
	started := time.Now()
	err := cmd.Run()
	run.Wall = time.Since(started).Seconds()
	if ps := cmd.ProcessState; ps != nil {
		run.CPU = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return run, fmt.Errorf("bench child %s: %v: %s", op, err, msg)
	}
	if err := json.Unmarshal(out.Bytes(), &run.childResult); err != nil {
		return run, fmt.Errorf("bench child %s: reading its report: %w", op, err)
	}
	if run.Status != "" && run.Status != state.RunOK {
		return run, fmt.Errorf("bench child %s: run %s: %s", op, run.Status, run.Failed)
	}
	if w != nil {
		after := w.requests()
		run.Served = map[string]int64{}
		for name, n := range after {
			run.Served[name] = n - before[name]
		}
	}
	// The child's own VmHWM, not getrusage's ru_maxrss: Linux carries the
	// parent's peak RSS over into a child it starts (the fork shares, and
	// exec records, the parent's memory map), so ru_maxrss would report
	// the simulated servers' memory.
	run.RSS = run.PeakRSS
	return run, nil
}

// read is the items the child read, all backends.
func (r childRun) read() int {
	n := 0
	for _, b := range r.Backends {
		n += b.Read
	}
	return n
}

func (r childRun) changed() int {
	n := 0
	for _, b := range r.Backends {
		n += b.Changed
	}
	return n
}

func (r childRun) served() int64 {
	var n int64
	for _, v := range r.Served {
		n += v
	}
	return n
}

func (r childRun) maxInFlight() int {
	m := 0
	for _, v := range r.InFlight {
		m = max(m, v)
	}
	return m
}

func (r childRun) backend(name, phase string) (childBackend, bool) {
	for _, b := range r.Backends {
		if b.Name == name && (phase == "" || b.Phase == phase) {
			return b, true
		}
	}
	return childBackend{}, false
}

// modes says which mode each backend's part ran in ("plex quick, ...").
func (r childRun) modes() string {
	var s []string
	for _, b := range r.Backends {
		s = append(s, b.Name+" "+b.Mode)
	}
	return strings.Join(s, ", ")
}

func (r childRun) allMode(mode string) bool {
	for _, b := range r.Backends {
		if b.Mode != mode {
			return false
		}
	}
	return len(r.Backends) > 0
}

// --- the scenarios --------------------------------------------------------

var allKinds = []backend.Kind{backend.Plex, backend.Jellyfin, backend.Emby}

// importScenarios: the full import of three servers from an empty
// database, the floor, then quick imports (nothing changed; 100 changes
// on each server), and the desktop app at rest over that database.
func (b *bench) importScenarios(ctx context.Context) error {
	n, runs := b.opt.Items, b.opt.Runs
	measure := b.opt.part("import")
	if !measure {
		runs = 1 // only the database the desktop app rests on
	}
	b.logf("starting 3 simulated servers with %d items each", n)
	w, err := b.startWorld(n, allKinds, 0, true)
	if err != nil {
		return err
	}
	defer w.close()
	sec := fmt.Sprintf("Full import, 3 x %s items, empty database", count(n))
	var imports, floors []childRun
	var dir string
	for r := range runs {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
		if dir, err = b.newConfig(ctx, w, false); err != nil {
			return err
		}
		prof := ""
		if r == 0 {
			prof = "import-3x" + short(n)
		}
		imp, err := b.child(ctx, w, dir, "import", prof, "--full")
		if err != nil {
			return err
		}
		if !imp.allMode("full") {
			return fmt.Errorf("full import ran as %s", imp.modes())
		}
		b.logf("full import %d/%d: %.1f s, %d items, %d requests, peak RSS %s", r+1, runs, imp.Seconds, imp.read(), imp.served(), mb(imp.RSS))
		imports = append(imports, imp)
		if !measure {
			break
		}
		if r == 0 {
			prof = "floor-3x" + short(n)
		}
		fl, err := b.child(ctx, w, dir, "floor", prof)
		if err != nil {
			return err
		}
		b.logf("floor %d/%d: %.1f s, %d items, %d requests", r+1, runs, fl.Seconds, fl.read(), fl.served())
		floors = append(floors, fl)
	}
	if measure {
		b.res.addImport(sec, imports, floors, 3*n)
		var quiet, changed []childRun
		for r := range runs {
			q, err := b.child(ctx, w, dir, "import", first(r, "quick-import"))
			if err != nil {
				return err
			}
			if !q.allMode("quick") {
				return fmt.Errorf("the import after a full one ran as %s, want quick", q.modes())
			}
			b.logf("quick import, nothing changed %d/%d: %.2f s, %d requests, read %d", r+1, runs, q.Seconds, q.served(), q.read())
			quiet = append(quiet, q)
		}
		for r := range runs {
			for _, name := range w.names {
				if err := b.change(w, name); err != nil {
					return err
				}
			}
			q, err := b.child(ctx, w, dir, "import", first(r, "quick-import-changed"))
			if err != nil {
				return err
			}
			b.logf("quick import, %d changed on each server %d/%d: %.2f s, %d requests, %d changed", b.opt.Changes, r+1, runs, q.Seconds, q.served(), q.changed())
			changed = append(changed, q)
		}
		b.res.addQuick(fmt.Sprintf("Quick import, nothing changed (3 x %s)", count(n)), quiet, w.names, 0)
		b.res.addQuick(fmt.Sprintf("Quick import, %d changed on each server (3 x %s)", b.opt.Changes, count(n)), changed, w.names, b.opt.Changes*len(w.names))
	}

	if b.opt.part("desktop") {
		b.res.Desktop = b.desktop(ctx, dir)
		b.res.addDesktop(b.res.Desktop)
	}
	return nil
}

// exportScenarios: Plex and Jellyfin with the same library and the same
// play states (so that the first sync has nothing to write), then rounds
// of 100 new plays on each side, pushed to the other; and full exports
// that compare the whole library to write 100 changes.
func (b *bench) exportScenarios(ctx context.Context) error {
	n, runs, changes := b.opt.Items, b.opt.Runs, b.opt.Changes
	b.logf("starting Plex and Jellyfin with %d items each, the same play states", n)
	w, err := b.startWorld(n, []backend.Kind{backend.Plex, backend.Jellyfin}, 7, true)
	if err != nil {
		return err
	}
	defer w.close()
	dir, err := b.newConfig(ctx, w, true)
	if err != nil {
		return err
	}
	if _, err := b.child(ctx, w, dir, "import", "", "--full"); err != nil {
		return err
	}
	initial, err := b.child(ctx, w, dir, "export", "export-first")
	if err != nil {
		return err
	}
	b.logf("first export (full, both): %.1f s, %d requests, %d written", initial.Seconds, initial.served(), initial.changed())

	var pushes, fulls []childRun
	for r := range runs {
		if err := errors.Join(b.change(w, "plex"), b.change(w, "jellyfin")); err != nil {
			return err
		}
		if _, err := b.child(ctx, w, dir, "import", ""); err != nil {
			return err
		}
		p, err := b.child(ctx, w, dir, "export", first(r, "export-push"))
		if err != nil {
			return err
		}
		if !p.allMode("push") {
			return fmt.Errorf("export after %d changes ran as %s, want push", changes, p.modes())
		}
		b.logf("push export %d/%d: %.2f s, %d requests, %d written", r+1, runs, p.Seconds, p.served(), p.changed())
		pushes = append(pushes, p)
	}
	for r := range runs {
		if err := b.change(w, "plex"); err != nil {
			return err
		}
		if _, err := b.child(ctx, w, dir, "import", ""); err != nil {
			return err
		}
		f, err := b.child(ctx, w, dir, "export", first(r, "export-full"), "--full", "--backend", "jellyfin")
		if err != nil {
			return err
		}
		b.logf("full export to jellyfin %d/%d: %.1f s, %d requests, %d written", r+1, runs, f.Seconds, f.served(), f.changed())
		fulls = append(fulls, f)
	}
	b.res.addExport(n, changes, initial, pushes, fulls)
	return nil
}

// bigScenario: one server with a million items, imported from an empty
// database (once or twice), and its floor.
// bigSizes are the points of the size curve below --big: the big import
// runs at each smaller size too, on the same kind of server, so that
// items/s at 100k, 300k and --big show whether the cost per item stays
// flat (addCurve).
var bigSizes = []int{100_000, 300_000}

func (b *bench) bigScenario(ctx context.Context) error {
	for _, n := range bigSizes {
		if b.opt.Big > n {
			if err := b.bigImport(ctx, n); err != nil {
				return err
			}
		}
	}
	if err := b.bigImport(ctx, b.opt.Big); err != nil {
		return err
	}
	b.res.addCurve(string(b.opt.BigKind))
	return nil
}

// bigImport is the full import of n items of one server into an empty
// database, --big-runs times, against the floor of the same listing.
func (b *bench) bigImport(ctx context.Context, n int) error {
	k := b.opt.BigKind
	b.logf("starting %s with %d items", k, n)
	started := time.Now()
	w, err := b.startWorld(n, []backend.Kind{k}, 0, false)
	if err != nil {
		return err
	}
	defer w.close()
	b.logf("%s with %d items ready in %s", k, n, time.Since(started).Round(time.Second))
	var imports, floors []childRun
	for r := range b.opt.BigRuns {
		dir, err := b.newConfig(ctx, w, false)
		if err != nil {
			return err
		}
		prof := ""
		if r == 0 {
			prof = "import-" + short(n)
		}
		imp, err := b.child(ctx, w, dir, "import", prof, "--full")
		if err != nil {
			return err
		}
		b.logf("full import of %d items %d/%d: %.1f s, peak RSS %s, database %s", n, r+1, b.opt.BigRuns, imp.Seconds, mb(imp.RSS), mb(imp.DBBytes))
		imports = append(imports, imp)
		if r == 0 {
			fl, err := b.child(ctx, w, dir, "floor", "floor-"+short(n))
			if err != nil {
				return err
			}
			b.logf("floor of %d items: %.1f s, peak RSS %s", n, fl.Seconds, mb(fl.RSS))
			floors = append(floors, fl)
		}
		_ = os.RemoveAll(dir)
	}
	b.res.addBig(fmt.Sprintf("Full import, 1 x %s items (%s), empty database", count(n), k), imports, floors, n)
	b.res.Curve = append(b.res.Curve, curvePoint{Items: n, PerSec: median(each(imports, func(c childRun) float64 { return float64(c.read()) / c.Seconds }))})
	return nil
}

// householdUsers and householdItems are the household scenario's shape:
// 3 servers x 4 people x a library of 25,000 items, as many listed items
// as the 3 x 100,000 import.
const householdUsers, householdItems = 4, 25_000

// householdScenario is the full import of a household: on each of the
// three servers four users with their own watch states, one backend
// each, linked to four people. What a film or episode is (items, external
// ids) is shared by the four and must be written once: the database is
// compared with one person's import of the same three servers, and the
// time with the floor (the same twelve listings, nothing else).
func (b *bench) householdScenario(ctx context.Context) error {
	kinds := []backend.Kind{backend.Plex, backend.Jellyfin, backend.Emby}
	w, err := b.startWorld(householdItems, kinds, 0, false)
	if err != nil {
		return err
	}
	defer w.close()
	cat := simulate.Generate(simulate.GenerateOptions{Items: householdItems, Seed: 1})
	type member struct {
		server, token, userID string
		person                int
	}
	var members []member
	for i, k := range kinds {
		srv := w.servers[string(k)]
		for u := range householdUsers {
			m := member{server: string(k), token: srv.Token(), userID: srv.UserID(), person: u}
			if u > 0 {
				watches := simulate.GenerateWatches(cat, uint64(1000*(i+1)+u), time.Now().UTC().Add(-time.Hour))
				switch s := srv.(type) {
				case *simulate.PlexServer:
					m.token = fmt.Sprintf("bench-household-%d", u)
					id, err := s.AddAccount(fmt.Sprintf("user%d", u), m.token)
					if err != nil {
						return err
					}
					for key, wt := range watches {
						s.SetAccountWatch(id, key, wt)
					}
				case *simulate.MediaBrowserServer:
					m.userID = s.AddUser(fmt.Sprintf("user%d", u), "", false)
					for key, wt := range watches {
						s.SetWatchOf(m.userID, key, wt)
					}
				default:
					return fmt.Errorf("household: no users on a %T", srv)
				}
			}
			members = append(members, m)
		}
	}
	newHousehold := func() (string, error) {
		dir, err := os.MkdirTemp(b.tmp, "cfg-")
		if err != nil {
			return "", err
		}
		st, err := state.Open(ctx, dir)
		if err != nil {
			return "", err
		}
		defer st.Close()
		var people []int64
		for u := range householdUsers {
			p, err := st.EnsurePerson(ctx, fmt.Sprintf("person%d", u))
			if err != nil {
				return "", err
			}
			people = append(people, p.ID)
		}
		for i, m := range members {
			s := w.servers[m.server]
			if _, err := st.AddBackend(ctx, state.Backend{Name: fmt.Sprintf("%s-%d", m.server, i), Kind: backend.Kind(m.server), URL: s.URL(),
				Token: m.token, UserID: m.userID, Import: state.ImportFull, PersonID: people[m.person]}); err != nil {
				return "", err
			}
		}
		return dir, nil
	}
	var imports, floors, singles []childRun
	for r := range b.opt.Runs {
		dir, err := newHousehold()
		if err != nil {
			return err
		}
		imp, err := b.child(ctx, w, dir, "import", first(r, "import-household"), "--full")
		if err != nil {
			return err
		}
		fl, err := b.child(ctx, w, dir, "floor", first(r, "floor-household"))
		if err != nil {
			return err
		}
		_ = os.RemoveAll(dir)
		one, err := b.newConfig(ctx, w, false) // the first person's three backends
		if err != nil {
			return err
		}
		single, err := b.child(ctx, w, one, "import", "", "--full")
		if err != nil {
			return err
		}
		_ = os.RemoveAll(one)
		b.logf("household import %d/%d: %.1f s (floor %.1f s), database %s; one person's import of the same servers: %.1f s, database %s",
			r+1, b.opt.Runs, imp.Seconds, fl.Seconds, mb(imp.DBBytes), single.Seconds, mb(single.DBBytes))
		imports, floors, singles = append(imports, imp), append(floors, fl), append(singles, single)
	}
	sec := fmt.Sprintf("Full import, a household: 3 servers x %d people x %s items, empty database", householdUsers, count(householdItems))
	b.res.addBig(sec, imports, floors, householdItems)
	b.res.row(sec, "one person's import of the same 3 servers: wall time", "s", each(singles, func(c childRun) float64 { return c.Seconds }), "the first person's three backends alone")
	b.res.row(sec, "one person's import: database size", "MB", each(singles, func(c childRun) float64 { return float64(c.DBBytes) / mbytes }),
		"the shared media identity is written once: the household's database holds four people's play states over the same items")
	return nil
}

// first is name for the first run (r == 0) of a scenario, "" for the
// others: the profiles (--profile) are of first runs.
func first(r int, name string) string {
	if r == 0 {
		return name
	}
	return ""
}

// count writes n with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// short writes n as 100k or 1M.
func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
