//go:build !headless

package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DISPLAY set but unusable: the one-sentence "no graphical display"
// message and exit 2, never GLFW's panic.
func TestDesktopWithAnUnusableDisplaySaysSo(t *testing.T) {
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("XAUTHORITY", filepath.Join(t.TempDir(), "none"))

	// Nothing listens on the display.
	free := freeDisplay(t)
	t.Setenv("DISPLAY", ":"+free)
	var out, errb bytes.Buffer
	code := run([]string{"--config-dir", t.TempDir()}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "no graphical display (nothing answers on DISPLAY=:"+free+")") ||
		strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 || strings.Contains(errb.String(), "panic") {
		t.Errorf("a display nobody serves: exit %d, stderr %q", code, errb.String())
	}

	// An X server that refuses us, as one does without the cookie.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var req [12]byte
			_, _ = c.Read(req[:])
			reason := "Authorization required, but no authorization protocol specified\n"
			var ans bytes.Buffer
			ans.Write([]byte{0, byte(len(reason))})
			_ = binary.Write(&ans, binary.LittleEndian, [3]uint16{11, 0, uint16((len(reason) + 3) / 4)})
			ans.WriteString(reason)
			_, _ = c.Write(ans.Bytes())
			c.Close()
		}
	}()
	if port >= 6000 {
		display := "127.0.0.1:" + strconv.Itoa(port-6000)
		t.Setenv("DISPLAY", display)
		errb.Reset()
		code = run([]string{"--config-dir", t.TempDir()}, &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), "no graphical display (the X server on DISPLAY="+display+" refused the connection (Authorization required") {
			t.Errorf("a display that refuses us: exit %d, stderr %q", code, errb.String())
		}
	}
}

// The probe against a real X server (Xvfb, as make test installs it) with
// access control: without its cookie refused, with it accepted.
func TestProbeX11AgainstXvfb(t *testing.T) {
	xvfb, err1 := exec.LookPath("Xvfb")
	xauth, err2 := exec.LookPath("xauth")
	if err1 != nil || err2 != nil {
		t.Skip("Xvfb or xauth is not installed (make test installs them): the X11 probe is checked against a scripted server only")
	}
	dir := t.TempDir()
	cookieFile := filepath.Join(dir, "Xauthority")
	display := ":" + freeDisplay(t)
	cookie := "0123456789abcdef0123456789abcdef"
	if out, err := exec.Command(xauth, "-f", cookieFile, "add", display, "MIT-MAGIC-COOKIE-1", cookie).CombinedOutput(); err != nil {
		t.Fatalf("xauth: %v %s", err, out)
	}
	srv := exec.Command(xvfb, display, "-auth", cookieFile, "-nolisten", "tcp")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	sock := "/tmp/.X11-unix/X" + strings.TrimPrefix(display, ":")
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("Xvfb did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("XAUTHORITY", filepath.Join(dir, "empty"))
	if _, err := probeX11(display); !errors.Is(err, errDisplay) {
		t.Errorf("without the cookie: %v, want a refusal", err)
	}
	t.Setenv("XAUTHORITY", cookieFile)
	x, err := probeX11(display)
	if err != nil || x == nil {
		t.Errorf("with the cookie: %v", err)
	} else {
		x.Close()
	}
}

// freeDisplay is a display number nothing serves.
func freeDisplay(t *testing.T) string {
	for n := 4000 + os.Getpid()%1000; n < 6000; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err != nil {
			if c, err := net.Dial("unix", fmt.Sprintf("@/tmp/.X11-unix/X%d", n)); err == nil {
				c.Close()
				continue
			}
			return strconv.Itoa(n)
		}
	}
	t.Fatal("no free display number")
	return ""
}

// The demo, started and stopped (SIGTERM, as a quit) under Xvfb in the
// C.UTF-8 locale, prints no Fyne error: not the locale's, not "Unable to
// create settings storage" when its throwaway dir goes, not "Preferences
// load error".
func TestDemoQuitsQuietly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the desktop app under Xvfb; not with -short")
	}
	for _, tool := range []string{"xvfb-run", "dbus-run-session"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make test installs it): the demo's quit is not checked", tool)
		}
	}
	bin := filepath.Join(t.TempDir(), "playmark")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The settings-storage error is a race with the dir's removal: two
	// rounds see it more often than one (about half the time without the
	// fix, measured).
	script := `for i in 1 2; do "$0" demo --items 20 & pid=$!; sleep 4; kill -TERM $pid; wait $pid || exit 1; done`
	cmd := exec.Command("xvfb-run", "-a", "-s", "-screen 0 1024x768x24", "dbus-run-session", "--", "bash", "-c", script, bin)
	cmd.Env = append(cleanEnv("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE", "XDG_CONFIG_HOME"), "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Opening Playmark") {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Fyne error") || strings.Contains(string(out), "panic") {
		t.Errorf("the demo printed Fyne errors or panicked:\n%s", out)
	}
}
