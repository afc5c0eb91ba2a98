package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// benchResults is what a bench run measured: the table (Rows) and the raw
// runs behind it, written as JSON.
type benchResults struct {
	Started time.Time    `json:"started"`
	Seconds float64      `json:"seconds"` // the whole bench
	Machine benchMachine `json:"machine"`
	Options benchOptions `json:"options"`
	Rows    []benchRow   `json:"rows"`
	// OtherLoad is the CPU other processes used during the bench, in
	// cores on average (the machine's busy time less the bench's own):
	// high values mean noisy figures.
	OtherLoad float64   `json:"other_load_cores"`
	LoadAvg   [2]string `json:"loadavg"` // /proc/loadavg at the start and the end
	Errors    []string  `json:"errors,omitempty"`
	// Raw figures of every child run, by scenario.
	Runs    map[string][]childRun `json:"runs"`
	Desktop *desktopResult        `json:"desktop,omitempty"`
	// Curve is items/s (the median) of the big import at each size.
	Curve []curvePoint `json:"curve,omitempty"`
}

// curvePoint is one size of the big import and its items/s.
type curvePoint struct {
	Items  int     `json:"items"`
	PerSec float64 `json:"items_per_sec"`
}

// benchRow is one line of the table: the median of a metric over runs,
// and how it compares with its goal.
type benchRow struct {
	Section string    `json:"section"`
	Metric  string    `json:"metric"`
	Unit    string    `json:"unit"`
	Median  float64   `json:"median"`
	Values  []float64 `json:"values,omitempty"`
	Runs    int       `json:"runs"`
	Goal    string    `json:"goal,omitempty"`
	Limit   float64   `json:"limit,omitempty"` // the goal is Median <= Limit
	Result  string    `json:"result,omitempty"`
	Note    string    `json:"note,omitempty"`
}

type benchMachine struct {
	CPUs     int    `json:"cpus"`
	CPU      string `json:"cpu"`
	MemBytes int64  `json:"mem_bytes"`
	Kernel   string `json:"kernel,omitempty"`
	OS       string `json:"os"`
	Go       string `json:"go"`
	Version  string `json:"playmark"`
}

func machineInfo() benchMachine {
	m := benchMachine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), Version: Version}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		var kb int64
		fmt.Sscanf(v, "%d", &kb)
		m.MemBytes = kb << 10
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// procField is the value of the first "key: value" line of a /proc file
// with that key.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// machineBusy is the CPU time all processes used since boot (from
// /proc/stat, Linux; ok false elsewhere).
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * 10 * time.Millisecond, true // USER_HZ is 100
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
}

func (m benchMachine) String() string {
	return fmt.Sprintf("%d CPUs (%s), %.1f GB RAM, %s, Linux %s, %s", m.CPUs, m.CPU, float64(m.MemBytes)/(1<<30), m.OS, m.Kernel, m.Go)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func each(runs []childRun, f func(childRun) float64) []float64 {
	out := make([]float64, len(runs))
	for i, r := range runs {
		out[i] = f(r)
	}
	return out
}

// row adds a row with the median of values.
func (r *benchResults) row(section, metric, unit string, values []float64, note string) *benchRow {
	r.Rows = append(r.Rows, benchRow{Section: section, Metric: metric, Unit: unit, Median: median(values), Values: values, Runs: len(values), Note: note})
	return &r.Rows[len(r.Rows)-1]
}

// goal sets the row's goal: the median must be at most limit.
func (b *benchRow) goal(text string, limit float64) *benchRow {
	b.Goal, b.Limit = text, limit
	return b
}

func (r *benchResults) notMeasured(section, why string) {
	r.Rows = append(r.Rows, benchRow{Section: section, Metric: "-", Result: why})
}

func (r *benchResults) keep(name string, runs ...childRun) {
	if r.Runs == nil {
		r.Runs = map[string][]childRun{}
	}
	r.Runs[name] = append(r.Runs[name], runs...)
}

const mbytes = 1e6

func (r *benchResults) addImport(sec string, imports, floors []childRun, items int) {
	r.keep(sec, imports...)
	r.keep(sec+": floor", floors...)
	wall := each(imports, func(c childRun) float64 { return c.Seconds })
	r.row(sec, "wall time", "s", wall, perBackendTime(imports))
	r.row(sec, "items/s", "items/s", each(imports, func(c childRun) float64 { return float64(c.read()) / c.Seconds }), "")
	r.row(sec, "requests", "req", each(imports, func(c childRun) float64 { return float64(c.served()) }), perBackend(imports))
	r.row(sec, "peak RSS", "MB", each(imports, func(c childRun) float64 { return float64(c.RSS) / mbytes }), "")
	r.row(sec, "CPU time (user+sys)", "s", each(imports, func(c childRun) float64 { return c.CPU }), "")
	r.row(sec, "database size", "MB", each(imports, func(c childRun) float64 { return float64(c.DBBytes) / mbytes }), "")
	r.row(sec, "Go heap allocated", "MB", each(imports, func(c childRun) float64 { return float64(c.TotalAlloc) / mbytes }), "")
	fwall := each(floors, func(c childRun) float64 { return c.Seconds })
	r.row(sec, "floor: wall time", "s", fwall, "the same clients list the same pages, nothing else: "+perBackendTime(floors))
	r.row(sec, "floor: CPU time", "s", each(floors, func(c childRun) float64 { return c.CPU }), "")
	r.row(sec, "floor: peak RSS", "MB", each(floors, func(c childRun) float64 { return float64(c.RSS) / mbytes }), "")
	r.ratio(sec, wall, fwall).goal("<= 1.5x the floor", 1.5)
	r.inFlight(sec, imports)
	_ = items
}

// inFlight is the most requests one server had in flight at once, over
// all runs.
func (r *benchResults) inFlight(sec string, runs []childRun) {
	row := r.row(sec, "requests in flight per server (max)", "req", []float64{maxOf(runs, func(c childRun) float64 { return float64(c.maxInFlight()) })},
		"the most over all runs")
	row.Runs, row.Values = len(runs), nil
	row.goal("a few (<= 4)", 4)
}

// perBackendTime is "plex 18.2 s, jellyfin 20.1 s, ...": the median time
// of each backend's part.
func perBackendTime(runs []childRun) string {
	if len(runs) == 0 {
		return ""
	}
	var parts []string
	for _, b := range runs[0].Backends {
		parts = append(parts, fmt.Sprintf("%s %.1f s", b.Name, median(each(runs, func(c childRun) float64 {
			x, _ := c.backend(b.Name, b.Phase)
			return x.Seconds
		}))))
	}
	return strings.Join(parts, ", ")
}

// ratio is the median import time over the median floor time.
func (r *benchResults) ratio(sec string, wall, floor []float64) *benchRow {
	row := r.row(sec, "import / floor", "x", []float64{median(wall) / median(floor)}, "median over median")
	row.Runs = min(len(wall), len(floor))
	row.Values = nil
	return row
}

func maxOf(runs []childRun, f func(childRun) float64) float64 {
	m := 0.0
	for _, c := range runs {
		m = max(m, f(c))
	}
	return m
}

// perBackend is "plex 205, jellyfin 203, emby 203": the median requests
// each server answered.
func perBackend(runs []childRun) string {
	if len(runs) == 0 {
		return ""
	}
	var names []string
	for name := range runs[0].Served {
		names = append(names, name)
	}
	slices.SortFunc(names, kindOrder)
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %.0f", name, median(each(runs, func(c childRun) float64 { return float64(c.Served[name]) }))))
	}
	return strings.Join(parts, ", ")
}

func kindOrder(a, b string) int {
	rank := func(s string) int {
		switch s {
		case "plex":
			return 0
		case "jellyfin":
			return 1
		case "emby":
			return 2
		}
		return 3
	}
	if d := rank(a) - rank(b); d != 0 {
		return d
	}
	return strings.Compare(a, b)
}

func (r *benchResults) addQuick(sec string, runs []childRun, names []string, changes int) {
	r.keep(sec, runs...)
	wall := r.row(sec, "wall time", "s", each(runs, func(c childRun) float64 { return c.Seconds }), "")
	if changes == 0 {
		wall.goal("< 1 s", 1)
	}
	for _, name := range names {
		row := r.row(sec, "requests: "+name, "req", each(runs, func(c childRun) float64 { return float64(c.Served[name]) }),
			fmt.Sprintf("read %.0f items", median(each(runs, func(c childRun) float64 {
				b, _ := c.backend(name, "import")
				return float64(b.Read)
			}))))
		if changes == 0 {
			row.goal("a handful (<= 10)", 10)
		}
	}
	if changes > 0 {
		r.row(sec, "local changes", "", each(runs, func(c childRun) float64 { return float64(c.changed()) }), fmt.Sprintf("of %d made on the servers", changes))
	}
	r.row(sec, "peak RSS", "MB", each(runs, func(c childRun) float64 { return float64(c.RSS) / mbytes }), "")
}

func (r *benchResults) addExport(items, changes int, first childRun, pushes, fulls []childRun) {
	sec := fmt.Sprintf("First export, 2 x %s items, nothing to write (compares everything)", count(items))
	r.keep(sec, first)
	r.row(sec, "wall time", "s", []float64{first.Seconds}, "")
	r.row(sec, "requests", "req", []float64{float64(first.served())}, perBackend([]childRun{first}))
	r.row(sec, "written", "", []float64{float64(first.changed())}, "")

	sec = fmt.Sprintf("Push export, %d new plays on each of Plex and Jellyfin, each pushed to the other", changes)
	r.keep(sec, pushes...)
	r.row(sec, "wall time", "s", each(pushes, func(c childRun) float64 { return c.Seconds }), "both backends")
	for _, name := range []string{"jellyfin", "plex"} {
		r.row(sec, "requests to "+name, "req", each(pushes, func(c childRun) float64 { return float64(c.Served[name]) }), "")
		r.row(sec, "written to "+name, "", each(pushes, func(c childRun) float64 {
			b, _ := c.backend(name, "export")
			return float64(b.Changed)
		}), "")
		r.row(sec, "requests per changed item, "+name, "req", each(pushes, func(c childRun) float64 {
			b, _ := c.backend(name, "export")
			return float64(c.Served[name]) / float64(max(1, b.Changed))
		}), "all requests of the export over the items written").goal("<= ~2", 2)
	}

	sec = fmt.Sprintf("Full export to Jellyfin, %s items compared, %d to write", count(items), changes)
	r.keep(sec, fulls...)
	r.row(sec, "wall time", "s", each(fulls, func(c childRun) float64 { return c.Seconds }), "")
	r.row(sec, "requests", "req", each(fulls, func(c childRun) float64 { return float64(c.Served["jellyfin"]) }), "")
	r.row(sec, "written", "", each(fulls, func(c childRun) float64 { return float64(c.changed()) }), "")
	r.row(sec, "peak RSS", "MB", each(fulls, func(c childRun) float64 { return float64(c.RSS) / mbytes }), "")
}

func (r *benchResults) addBig(sec string, imports, floors []childRun, items int) {
	r.keep(sec, imports...)
	r.keep(sec+": floor", floors...)
	note := fmt.Sprintf("%d run(s)", len(imports))
	wall := each(imports, func(c childRun) float64 { return c.Seconds })
	r.row(sec, "wall time", "s", wall, note)
	r.row(sec, "items/s", "items/s", each(imports, func(c childRun) float64 { return float64(c.read()) / c.Seconds }), note)
	r.row(sec, "peak RSS", "MB", each(imports, func(c childRun) float64 { return float64(c.RSS) / mbytes }),
		"the importing process alone: the server runs in the driver").goal("< 150 MB", 150)
	r.row(sec, "peak Go heap (sampled)", "MB", each(imports, func(c childRun) float64 { return float64(c.PeakHeap) / mbytes }), note)
	r.row(sec, "requests", "req", each(imports, func(c childRun) float64 { return float64(c.served()) }), note)
	r.row(sec, "CPU time (user+sys)", "s", each(imports, func(c childRun) float64 { return c.CPU }), note)
	r.row(sec, "database size", "MB", each(imports, func(c childRun) float64 { return float64(c.DBBytes) / mbytes }), note)
	fwall := each(floors, func(c childRun) float64 { return c.Seconds })
	r.row(sec, "floor: wall time", "s", fwall, fmt.Sprintf("%d run(s)", len(floors)))
	r.row(sec, "floor: peak RSS", "MB", each(floors, func(c childRun) float64 { return float64(c.RSS) / mbytes }), "")
	r.ratio(sec, wall, fwall)
	r.inFlight(sec, imports)
	_ = items
}

// addCurve adds the size curve of the big import: items/s at each size,
// and in one line the largest size's items/s over the smallest's (the
// goal: the cost per item flat within 20 %, so at least 0.8).
func (r *benchResults) addCurve(kind string) {
	if len(r.Curve) < 2 {
		return
	}
	sec := fmt.Sprintf("Cost per item by library size: full import of 1 %s server, empty database", kind)
	var parts []string
	for _, p := range r.Curve {
		r.row(sec, "items/s at "+short(p.Items), "items/s", []float64{p.PerSec}, "")
		parts = append(parts, fmt.Sprintf("%s %s", short(p.Items), format(p.PerSec, "items/s")))
	}
	lo, hi := r.Curve[0], r.Curve[len(r.Curve)-1]
	row := r.row(sec, fmt.Sprintf("items/s at %s over at %s", short(hi.Items), short(lo.Items)), "x", []float64{hi.PerSec / lo.PerSec},
		strings.Join(parts, ", "))
	row.Values = nil
	// The goal is a floor (at least 0.8), where goal() sets a ceiling:
	// judged here, and kept by Verdicts (Limit 0 and a result set).
	row.Goal = "flat within 20 % (>= 0.80)"
	if row.Median >= 0.8 {
		row.Result = "met"
	} else {
		row.Result = fmt.Sprintf("missed: %.0f %% slower per item", (1/row.Median-1)*100)
	}
}

func (r *benchResults) addDesktop(d *desktopResult) {
	sec := "Desktop app at rest (xvfb-run -a dbus-run-session)"
	if d == nil || !d.Measured {
		why := "not measured"
		if d != nil && d.Reason != "" {
			why = "not measured: " + d.Reason
		}
		r.notMeasured(sec, why)
		return
	}
	hidden := "window hidden (--hidden), the probe being the tray host"
	if !d.Hidden {
		hidden = "window shown: no --hidden flag"
	}
	note := "org.kde.StatusNotifierItem-<pid>-1 on the session bus"
	if d.RegisteredSeconds > 0 {
		note += fmt.Sprintf("; registered with the tray host after %.2f s", d.RegisteredSeconds)
	}
	r.row(sec, "start to tray registered", "s", []float64{d.TraySeconds}, note).goal("<= 1.5 s", 1.5)
	r.row(sec, "RSS at rest (median)", "MB", []float64{float64(d.RSSMedian) / mbytes},
		fmt.Sprintf("%d samples over %.0f s, %s; max %.1f MB; at the end %.1f MB anonymous, %.1f MB files, %.1f MB shared; %d threads",
			d.Samples, d.IdleSeconds, hidden, float64(d.RSSMax)/mbytes, float64(d.RSSAnon)/mbytes, float64(d.RSSFile)/mbytes, float64(d.RSSShmem)/mbytes, d.Threads)).goal("< 80 MB", 80)
	r.row(sec, "CPU at rest", "%", []float64{d.CPUPercent}, fmt.Sprintf("of one core, over %.0f s", d.IdleSeconds)).goal("~0 % (<= 0.5 %)", 0.5)
}

// Verdicts fills in each row's result against its goal.
func (r *benchResults) Verdicts() {
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.Goal == "" || row.Runs == 0 || math.IsNaN(row.Median) || row.Result != "" {
			continue
		}
		if row.Median <= row.Limit {
			row.Result = "met"
			continue
		}
		over := row.Median - row.Limit
		row.Result = fmt.Sprintf("missed by %s", strings.TrimSpace(format(over, row.Unit)))
		if row.Limit > 0 {
			row.Result += fmt.Sprintf(" (%.1fx the goal)", row.Median/row.Limit)
		}
	}
}

func format(v float64, unit string) string {
	if math.IsNaN(v) {
		return "-"
	}
	switch unit {
	case "s":
		if v < 10 {
			return fmt.Sprintf("%.2f s", v)
		}
		return fmt.Sprintf("%.1f s", v)
	case "MB":
		return fmt.Sprintf("%.1f MB", v)
	case "items/s":
		return count(int(math.Round(v))) + " items/s"
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "%":
		return fmt.Sprintf("%.2f %%", v)
	case "req":
		if v != math.Trunc(v) && v < 100 {
			return fmt.Sprintf("%.2f", v)
		}
		return count(int(math.Round(v)))
	}
	if v != math.Trunc(v) {
		return fmt.Sprintf("%.1f", v)
	}
	return count(int(v))
}

// printBenchTable prints the table, section by section.
func printBenchTable(w io.Writer, r *benchResults) {
	fmt.Fprintf(w, "\nPlaymark %s benchmarks, %s\n", r.Machine.Version, r.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Machine: %s\n", r.Machine)
	took := time.Duration(r.Seconds * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(w, "Runs: %d of each (the %s-item import: %d); medians shown. The whole bench took %s", r.Options.Runs, count(r.Options.Big), r.Options.BigRuns, took)
	if !r.Options.Quick && took > 15*time.Minute {
		fmt.Fprint(w, " (over the 15 minutes it should take)")
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintf(w, "Other processes used %.2f of the %d cores on average meanwhile (load average %s at the start, %s at the end)",
		r.OtherLoad, r.Machine.CPUs, r.LoadAvg[0], r.LoadAvg[1])
	if r.OtherLoad > 0.2 {
		fmt.Fprint(w, ": the figures are noisier than on a quiet machine")
	}
	fmt.Fprintln(w, ".")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	last := ""
	for _, row := range r.Rows {
		if row.Section != last {
			fmt.Fprintf(tw, "\n%s\t\t\t\t\t\n", row.Section)
			last = row.Section
		}
		if row.Metric == "-" {
			fmt.Fprintf(tw, "  %s\t\t\t\t\t\n", row.Result)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", row.Metric, format(row.Median, row.Unit), runsOf(row), dash(row.Goal), dash(row.Result), row.Note)
	}
	tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\nFAILED: %s\n", e)
	}
}

func runsOf(row benchRow) string {
	if row.Runs == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", row.Runs)
}

// markdown is the table as Markdown, for the README.
func (r *benchResults) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s. Medians of %d runs (the %s-item import: %d run). Other processes used %.2f cores meanwhile.\n\n",
		r.Started.Format("2006-01-02"), r.Machine, r.Options.Runs, count(r.Options.Big), r.Options.BigRuns, r.OtherLoad)
	fmt.Fprintln(&b, "| Scenario | Metric | Median | Goal | Result |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	last := ""
	for _, row := range r.Rows {
		sec := ""
		if row.Section != last {
			sec, last = row.Section, row.Section
		}
		if row.Metric == "-" {
			fmt.Fprintf(&b, "| %s | | | | %s |\n", sec, row.Result)
			continue
		}
		val := format(row.Median, row.Unit)
		if row.Note != "" {
			val += " (" + row.Note + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", sec, row.Metric, val, row.Goal, row.Result)
	}
	return b.String()
}

// write saves the results as out/latest.json (and latest.md) and a dated
// copy.
func (r *benchResults) write(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	name := "bench-" + r.Started.Format("2006-01-02T150405Z")
	latest := "latest"
	if r.Options.Quick {
		name += "-quick"
		latest = "latest-quick"
	}
	for _, f := range []string{latest + ".json", name + ".json"} {
		if err := os.WriteFile(filepath.Join(out, f), data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, latest+".md"), []byte(r.markdown()), 0o644)
}

// dash is s, or "-" when it is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
