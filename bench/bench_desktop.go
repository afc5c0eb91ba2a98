package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

// desktopResult is the desktop app at rest: how long the tray took to
// appear on the session bus, and its RSS and CPU while idle.
type desktopResult struct {
	Measured    bool    `json:"measured"`
	Reason      string  `json:"reason,omitempty"` // why not measured
	Hidden      bool    `json:"hidden"`           // started with --hidden
	TraySeconds float64 `json:"tray_seconds"`
	TrayName    string  `json:"tray_name,omitempty"`
	// RegisteredSeconds is when the app registered its item with the
	// tray host (the probe), 0 if it did not.
	RegisteredSeconds float64 `json:"registered_seconds"`
	IdleSeconds       float64 `json:"idle_seconds"`
	Samples           int     `json:"samples"`
	RSSMedian         int64   `json:"rss_median"`
	RSSMax            int64   `json:"rss_max"`
	// The RSS at the end, split as the kernel counts it: anonymous
	// memory (Go heap, C allocations, GL buffers), mapped files (the
	// binary, libraries, fonts) and shared memory (X images).
	RSSAnon    int64   `json:"rss_anon"`
	RSSFile    int64   `json:"rss_file"`
	RSSShmem   int64   `json:"rss_shmem"`
	Threads    int64   `json:"threads"`
	CPUPercent float64 `json:"cpu_percent"` // of one core, over the idle time
}

// desktop measures the desktop app at rest over the config dir dir, in a
// virtual X server and a private session bus.
func (b *bench) desktop(ctx context.Context, dir string) *desktopResult {
	for _, tool := range []string{"xvfb-run", "dbus-run-session"} {
		if _, err := exec.LookPath(tool); err != nil {
			return &desktopResult{Reason: tool + " is not installed (make test-deps installs it)"}
		}
	}
	b.logf("desktop app at rest: %s idle", b.opt.Idle)
	ctx, cancel := context.WithTimeout(ctx, b.opt.Idle+90*time.Second)
	defer cancel()
	playmark, err := filepath.Abs(b.opt.Playmark)
	if err == nil && fileSize(playmark) == 0 {
		err = fmt.Errorf("%s is not there (make build)", playmark)
	}
	if err != nil {
		return &desktopResult{Reason: "no playmark binary to start: " + err.Error()}
	}
	cmd := exec.CommandContext(ctx, "xvfb-run", "-a", "dbus-run-session", "--", b.self, "--config-dir", dir,
		"desktop-probe", "--playmark", playmark, "--idle", b.opt.Idle.String())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	// Services the session starts (a keyring daemon) may print on the
	// same stdout: the report is the last line that is a JSON object.
	var d desktopResult
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &d); jerr != nil {
		why := strings.TrimSpace(errb.String())
		if err != nil {
			why = err.Error() + ": " + lastLine(why)
		}
		return &desktopResult{Reason: "the probe failed: " + why}
	}
	if d.Measured {
		b.logf("tray after %.2f s; at rest: RSS %s, CPU %.2f %%", d.TraySeconds, mb(d.RSSMedian), d.CPUPercent)
	} else {
		b.logf("desktop app not measured: %s", d.Reason)
	}
	return &d
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// benchDesktopProbe runs inside xvfb-run and dbus-run-session: it starts
// the desktop app (the playmark binary with no command, --hidden when it has that
// flag), waits for its tray on the session bus, then samples the app's
// RSS and CPU time while it idles. It prints a desktopResult as JSON.
func (c *cli) benchDesktopProbe(args []string) error {
	fs := flag.NewFlagSet("bench desktop-probe", flag.ContinueOnError)
	idle := fs.Duration("idle", time.Minute, "")
	settle := fs.Duration("settle", 2*time.Second, "")
	playmark := fs.String("playmark", filepath.Join("bin", "playmark"), "")
	if err := parse(fs, args); err != nil {
		return err
	}
	d := probeDesktop(*playmark, c.configDir, *idle, *settle)
	return json.NewEncoder(c.stdout).Encode(d)
}

func probeDesktop(self, dir string, idle, settle time.Duration) *desktopResult {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return &desktopResult{Reason: "no session bus: " + err.Error()}
	}
	defer conn.Close()
	// Be the tray host: without one, the app hidden at start shows its
	// window after a while (there would be no other way to reach it).
	w := &trayWatcher{}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		return &desktopResult{Reason: "exporting a tray host: " + err.Error()}
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		return &desktopResult{Reason: fmt.Sprintf("owning the tray host name: %v %v", reply, err)}
	}
	for _, hidden := range []bool{true, false} {
		d, retry := probeOnce(conn, w, self, dir, hidden, idle, settle)
		if !retry {
			return d
		}
	}
	return &desktopResult{Reason: "the desktop app did not start"}
}

// probeOnce starts the app once. retry is true when it refused --hidden.
func probeOnce(conn *dbus.Conn, w *trayWatcher, self, dir string, hidden bool, idle, settle time.Duration) (d *desktopResult, retry bool) {
	d = &desktopResult{Hidden: hidden}
	argv := []string{"--config-dir", dir}
	if hidden {
		argv = append(argv, "--hidden")
	}
	cmd := exec.Command(self, argv...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	started := time.Now()
	w.reset(started)
	if err := cmd.Start(); err != nil {
		d.Reason = err.Error()
		return d, false
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	prefix := fmt.Sprintf("org.kde.StatusNotifierItem-%d-", cmd.Process.Pid)

	// Wait for the tray's name on the bus (polled: the app may own it
	// before a signal subscription would be in place).
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for d.TrayName == "" {
		select {
		case err := <-exited:
			msg := lastLine(errb.String())
			if hidden && strings.Contains(msg, "flag provided but not defined") {
				return d, true
			}
			if msg == "" && err != nil {
				msg = err.Error()
			}
			if msg == "" {
				msg = "it exited at once"
			}
			d.Reason = "desktop app not available (" + strings.TrimPrefix(msg, "playmark: ") + ")"
			return d, false
		case <-deadline:
			stop()
			d.Reason = "no tray on the session bus within 30 s"
			return d, false
		case <-tick.C:
			var names []string
			if err := conn.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
				continue
			}
			if i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) }); i >= 0 {
				d.TrayName = names[i]
				d.TraySeconds = time.Since(started).Seconds()
			}
		}
	}
	defer stop()

	pid := strconv.Itoa(cmd.Process.Pid)
	defer func() { d.RegisteredSeconds = w.registeredAfter() }()
	time.Sleep(settle)
	cpu0, ok := procCPUTicks(pid)
	if !ok {
		d.Reason = "cannot read /proc/" + pid + "/stat"
		return d, false
	}
	t0 := time.Now()
	var rss []float64
	for time.Since(t0) < idle {
		select {
		case <-exited:
			d.Reason = "the desktop app exited while idle: " + lastLine(errb.String())
			return d, false
		case <-time.After(time.Second):
		}
		if v := procStatusOf(pid, "VmRSS"); v > 0 {
			rss = append(rss, float64(v))
			d.RSSMax = max(d.RSSMax, v)
		}
	}
	cpu1, _ := procCPUTicks(pid)
	d.RSSAnon, d.RSSFile, d.RSSShmem = procStatusOf(pid, "RssAnon"), procStatusOf(pid, "RssFile"), procStatusOf(pid, "RssShmem")
	d.Threads = procStatusCount(pid, "Threads")
	d.IdleSeconds = time.Since(t0).Seconds()
	d.Samples = len(rss)
	d.RSSMedian = int64(median(rss))
	// Clock ticks are 1/100 s on Linux (USER_HZ).
	d.CPUPercent = float64(cpu1-cpu0) / 100 / d.IdleSeconds * 100
	d.Measured = true
	return d, false
}

// procCPUTicks is a process's user + system time in clock ticks, all
// threads, from /proc/PID/stat.
func procCPUTicks(pid string) (int64, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	// Fields 14 and 15 of stat (utime, stime); f starts at field 3.
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return u + st, true
}

// trayWatcher is a minimal org.kde.StatusNotifierWatcher, the tray host
// side that items register with; it notes when the first one did.
type trayWatcher struct {
	mu         sync.Mutex
	start      time.Time
	registered time.Time
}

func (w *trayWatcher) reset(start time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start, w.registered = start, time.Time{}
}

func (w *trayWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.registered.IsZero() {
		w.registered = time.Now()
	}
	return nil
}

func (w *trayWatcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

func (w *trayWatcher) registeredAfter() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.registered.IsZero() {
		return 0
	}
	return w.registered.Sub(w.start).Seconds()
}
