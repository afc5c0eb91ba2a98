package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// The measured work of the benchmarks runs in a child process of the
// driver (playmark-bench --config-dir DIR child OP), so that its peak RSS
// is Playmark's alone: the simulated servers live in the driver.

// childResult is what a child reports on stdout, as JSON.
type childResult struct {
	Op       string         `json:"op"`
	Seconds  float64        `json:"seconds"` // the engine call (or the floor's listings) alone
	Status   string         `json:"status,omitempty"`
	Failed   string         `json:"failed,omitempty"`
	Backends []childBackend `json:"backends"`
	// InFlight is the most requests the process had in flight at once,
	// per server (host:port).
	InFlight map[string]int `json:"in_flight"`
	Requests map[string]int `json:"requests"` // requests sent, per server
	PeakRSS  int64          `json:"peak_rss"` // bytes (VmHWM)
	DBBytes  int64          `json:"db_bytes"` // database file (and WAL) after closing
	// Go runtime figures: all the memory the Go heap ever allocated, and
	// the largest live heap seen (sampled).
	TotalAlloc uint64 `json:"total_alloc"`
	PeakHeap   uint64 `json:"peak_heap"`
	NumGC      uint32 `json:"num_gc"`
}

type childBackend struct {
	Name      string  `json:"name"`
	Phase     string  `json:"phase"`
	Mode      string  `json:"mode"`
	Read      int     `json:"read"`
	Added     int     `json:"added"`
	Changed   int     `json:"changed"`
	Skipped   int     `json:"skipped"`
	Failed    int     `json:"failed"`
	Unmatched int     `json:"unmatched"`
	Requests  int64   `json:"requests"`
	Seconds   float64 `json:"seconds"`
	Error     string  `json:"error,omitempty"`
}

// benchChild runs one measured operation: import, export or floor.
func (c *cli) benchChild(args []string) error {
	if len(args) == 0 {
		return usagef("bench child: want import, export or floor")
	}
	op := args[0]
	fs := flag.NewFlagSet("bench child", flag.ContinueOnError)
	full := fs.Bool("full", false, "")
	var names backends
	fs.Var(&names, "backend", "")
	pageSize := fs.Int("page-size", 0, "")
	cpuProfile := fs.String("cpuprofile", "", "")
	memProfile := fs.String("memprofile", "", "")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	switch op {
	case "import", "export", "floor":
	default:
		return usagef("bench child: unknown operation %q", op)
	}

	peak := watchHeap(*memProfile != "")
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx, cancel := signalContext()
	defer cancel()
	st, err := state.Open(ctx, c.configDir)
	if err != nil {
		return err
	}
	counter := newCountingTransport()
	log, closeLog := logger(c.configDir)
	defer closeLog()
	eng := engine.New(st, log)
	eng.SetTransportOptions(backend.TransportOptions{Base: counter})
	eng.SetPageSize(*pageSize)

	res := childResult{Op: op}
	started := time.Now()
	var rep *engine.Report
	switch op {
	case "import":
		rep, err = eng.Import(ctx, engine.RunOptions{Backends: names, Full: *full, Trigger: "bench"})
	case "export":
		rep, err = eng.Export(ctx, engine.RunOptions{Backends: names, Full: *full, Trigger: "bench"})
	case "floor":
		err = floor(ctx, eng, names, *pageSize, &res)
	}
	res.Seconds = time.Since(started).Seconds()
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		if werr := peak.writeProfile(*memProfile); werr != nil && err == nil {
			err = werr
		}
	}
	if cerr := st.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if rep != nil {
		res.Status, res.Failed = rep.Status, rep.FailedReason
		for _, b := range rep.Backends {
			res.Backends = append(res.Backends, childBackend{Name: b.Backend, Phase: b.Phase, Mode: b.Mode, Read: b.Read, Added: b.Added,
				Changed: b.Changed, Skipped: b.Skipped, Failed: b.Failed, Unmatched: b.Unmatched, Requests: b.Requests,
				Seconds: b.Duration.Seconds(), Error: b.Error})
		}
	}
	res.InFlight, res.Requests = counter.figures()
	res.PeakRSS = procStatusBytes("VmHWM")
	res.DBBytes = fileSize(filepath.Join(c.configDir, state.FileName)) + fileSize(filepath.Join(c.configDir, state.FileName+"-wal"))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.TotalAlloc, res.NumGC = ms.TotalAlloc, ms.NumGC
	res.PeakHeap = peak.stop()
	return json.NewEncoder(c.stdout).Encode(res)
}

// logger is what the engine logs to, as in playmark: playmark.log in dir,
// text at level info, so that the measured run writes what a real one does.
func logger(dir string) (*slog.Logger, func()) {
	f, err := os.OpenFile(filepath.Join(dir, "playmark.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil)), func() {}
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo})), func() { f.Close() }
}

// floor is the least an import can cost: the same clients, the same page
// size and the same listings, each page thrown away. The backends are
// read one after the other, as the import reads them.
func floor(ctx context.Context, eng *engine.Engine, names []string, pageSize int, res *childResult) error {
	all, err := eng.Store().Backends(ctx)
	if err != nil {
		return err
	}
	for _, b := range all {
		if len(names) > 0 && !slices.Contains(names, b.Name) {
			continue
		}
		started := time.Now()
		client, tr, err := eng.Open(ctx, b)
		if err != nil {
			return err
		}
		n := 0
		err = client.Items(ctx, backend.ListOptions{Libraries: b.Options.Libraries, PageSize: pageSize}, func(p []backend.Item) error {
			n += len(p)
			return nil
		})
		if err != nil {
			return fmt.Errorf("floor %s: %w", b.Name, err)
		}
		res.Backends = append(res.Backends, childBackend{Name: b.Name, Phase: "floor", Mode: "list", Read: n,
			Requests: tr.Requests(), Seconds: time.Since(started).Seconds()})
	}
	return nil
}

// countingTransport is the HTTP transport of the measured process: it
// counts the requests in flight per server, from the request until its
// body is closed.
type countingTransport struct {
	base http.RoundTripper

	mu       sync.Mutex
	inFlight map[string]int
	max      map[string]int
	total    map[string]int
}

func newCountingTransport() *countingTransport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4 // as backend.NewTransport sets it by default
	return &countingTransport{base: t, inFlight: map[string]int{}, max: map[string]int{}, total: map[string]int{}}
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	t.mu.Lock()
	t.inFlight[host]++
	t.total[host]++
	t.max[host] = max(t.max[host], t.inFlight[host])
	t.mu.Unlock()
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.done(host)
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, done: func() { t.done(host) }}
	return resp, nil
}

func (t *countingTransport) done(host string) {
	t.mu.Lock()
	t.inFlight[host]--
	t.mu.Unlock()
}

func (t *countingTransport) figures() (maxInFlight, total map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	maxInFlight, total = map[string]int{}, map[string]int{}
	for k, v := range t.max {
		maxInFlight[k] = v
	}
	for k, v := range t.total {
		total[k] = v
	}
	return maxInFlight, total
}

type countedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *countedBody) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}

// heapWatch samples the live heap while the child works, and keeps a heap
// profile taken near the largest live heap seen.
type heapWatch struct {
	stopc   chan struct{}
	done    chan struct{}
	peak    uint64
	profile []byte
}

func watchHeap(profile bool) *heapWatch {
	h := &heapWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		lastProfiled := uint64(0)
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > h.peak {
				h.peak = v
				// A new profile once the heap grew by a tenth: the last
				// one taken is within 10 % of the peak.
				if profile && v > lastProfiled+lastProfiled/10 {
					var buf bytes.Buffer
					if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
						h.profile, lastProfiled = buf.Bytes(), v
					}
				}
			}
			select {
			case <-h.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapWatch) stop() uint64 {
	select {
	case <-h.stopc:
	default:
		close(h.stopc)
	}
	<-h.done
	return h.peak
}

// writeProfile writes the heap profile taken nearest the peak (with the
// allocations of the whole run in its alloc_* samples).
func (h *heapWatch) writeProfile(path string) error {
	h.stop()
	if h.profile == nil {
		return errors.New("no heap profile was taken")
	}
	return os.WriteFile(path, h.profile, 0o644)
}

// procStatusBytes reads a "kB" field of /proc/self/status (Linux); 0 when
// it cannot.
func procStatusBytes(field string) int64 { return procStatusOf("self", field) }

func procStatusOf(pid, field string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n << 10
	}
	return 0
}

// procStatusCount reads a plain number field of /proc/PID/status.
func procStatusCount(pid, field string) int64 { return procStatusOf(pid, field) >> 10 }

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
