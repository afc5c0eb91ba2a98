package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestBenchVerdicts(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 values = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 values = %v, want 2.5", got)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
	r := &benchResults{}
	r.row("s", "ratio", "x", []float64{2.9, 3.1, 3}, "").goal("<= 1.5x", 1.5)
	r.row("s", "rss", "MB", []float64{88}, "").goal("< 150 MB", 150)
	r.row("s", "no goal", "s", []float64{1}, "")
	r.notMeasured("desktop", "not measured: no X server")
	r.Verdicts()
	want := []string{"missed by 1.50x (2.0x the goal)", "met", "", "not measured: no X server"}
	for i, w := range want {
		if r.Rows[i].Result != w {
			t.Errorf("row %d (%s): result %q, want %q", i, r.Rows[i].Metric, r.Rows[i].Result, w)
		}
	}
	for v, want := range map[float64]string{1234567: "1,234,567", 12: "12", 1.25: "1.25"} {
		if got := format(v, "req"); got != want {
			t.Errorf("format(%v, req) = %q, want %q", v, got, want)
		}
	}
	if got := short(1_000_000) + " " + short(100_000) + " " + short(1234); got != "1M 100k 1234" {
		t.Errorf("short: %q", got)
	}
}

// TestBenchCurve: the size curve prints items/s per size and, in one
// line, the largest size's over the smallest's, judged against "flat
// within 20 %" (a floor, where other goals are ceilings).
func TestBenchCurve(t *testing.T) {
	for _, c := range []struct {
		last   float64
		result string
	}{{24000, "met"}, {10000, "missed: 200 % slower per item"}} {
		r := &benchResults{Curve: []curvePoint{{100_000, 30000}, {300_000, 25000}, {1_000_000, c.last}}}
		r.addCurve("plex")
		r.Verdicts()
		if len(r.Rows) != 4 {
			t.Fatalf("%d rows, want 3 sizes and the ratio: %+v", len(r.Rows), r.Rows)
		}
		for i, m := range []string{"items/s at 100k", "items/s at 300k", "items/s at 1M", "items/s at 1M over at 100k"} {
			if r.Rows[i].Metric != m {
				t.Errorf("row %d: %q, want %q", i, r.Rows[i].Metric, m)
			}
		}
		ratio := r.Rows[3]
		if want := c.last / 30000; math.Abs(ratio.Median-want) > 1e-9 || ratio.Result != c.result {
			t.Errorf("ratio row: %v %q, want %v %q", ratio.Median, ratio.Result, want, c.result)
		}
		if !strings.Contains(ratio.Note, "100k 30,000 items/s, 300k 25,000 items/s") {
			t.Errorf("ratio row's note %q does not list the curve", ratio.Note)
		}
	}
	one := &benchResults{Curve: []curvePoint{{500, 1000}}}
	if one.addCurve("plex"); len(one.Rows) != 0 {
		t.Errorf("a curve of one point printed %d rows", len(one.Rows))
	}
}

// TestMain lets this test binary stand in for playmark-bench when a test
// starts it with PLAYMARK_BENCH_TEST_MAIN=1 (the driver's children).
func TestMain(m *testing.M) {
	if os.Getenv("PLAYMARK_BENCH_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchSmoke runs the driver end to end at a toy size: simulated
// servers in this process, each measured run in a child (this test
// binary, as TestMain lets it stand in for playmark-bench).
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Setenv("PLAYMARK_BENCH_TEST_MAIN", "1")
	out := t.TempDir()
	var stdoutB, stderrB strings.Builder
	c := &cli{stdout: &stdoutB, stderr: &stderrB}
	err := c.run([]string{"--quick", "--items", "2000", "--big", "1000", "--only", "import,big", "--out", out})
	stdout, stderr := stdoutB.String(), stderrB.String()
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "latest-quick.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res benchResults
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	metrics := map[string]float64{}
	for _, row := range res.Rows {
		metrics[row.Section+": "+row.Metric] = row.Median
	}
	for key, v := range metrics {
		if strings.HasPrefix(key, "Full import, 3 x 2,000 items") && strings.HasSuffix(key, "requests") && v < 9 {
			t.Errorf("%s = %v: the three servers were hardly asked", key, v)
		}
	}
	if v := metrics["Full import, 1 x 1,000 items (plex), empty database: peak RSS"]; v <= 0 {
		t.Errorf("no peak RSS measured: %v", metrics)
	}
	if v := metrics["Quick import, 100 changed on each server (3 x 2,000): local changes"]; v != 300 {
		t.Errorf("quick import after 100 changes on each server changed %v items, want 300", v)
	}
	if !strings.Contains(stdout, "import / floor") {
		t.Errorf("the table has no import / floor row:\n%s", stdout)
	}
}

// TestPlaymarkLinksNoBench builds the shipped playmark binary and reads
// its symbols: none of the benchmark harness may be linked into it.
func TestPlaymarkLinksNoBench(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the playmark binary")
	}
	bin := filepath.Join(t.TempDir(), "playmark")
	build := exec.Command("go", "build", "-o", bin, "playmark")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build playmark: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	bad := regexp.MustCompile(`(?i)^playmark/(bench|app)\..*(bench|childResult|heapWatch|countingTransport|desktop-?probe)`)
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if sym := f[len(f)-1]; bad.MatchString(sym) {
			t.Errorf("the playmark binary links benchmark code: %s", sym)
		}
	}
}
