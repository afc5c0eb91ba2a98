//go:build !headless

package app

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errDisplay is an X display that is set but cannot be used.
var errDisplay = errors.New("the X display cannot be used")

// displayError is an unusable display and why, in a few words. It
// matches errDisplay.
type displayError struct{ why string }

func (e *displayError) Error() string        { return errDisplay.Error() + ": " + e.why }
func (e *displayError) Is(target error) bool { return target == errDisplay }

// probeX11 opens the X display named by display (as $DISPLAY does) the
// way Xlib would, with the MIT-MAGIC-COOKIE-1 from $XAUTHORITY, and
// returns an error matching errDisplay, in one sentence, when the display
// is definitely unusable: nothing listens there, or the server refuses the
// connection (authorisation). GLFW would then panic with 38 lines. Any
// doubt (an unusual $DISPLAY, an answer we do not know) is nil: the
// window then gets its chance.
//
// An accepted connection is returned open, for the caller to close once
// the window has its own: an X server that resets when its last client
// leaves (Xvfb, as xvfb-run starts it) would otherwise be resetting just
// as the window connects, and refuse it.
func probeX11(display string) (io.Closer, error) {
	host, num, ok := parseDisplay(display)
	if !ok {
		return nil, nil
	}
	var conn net.Conn
	var err error
	d := net.Dialer{Timeout: 3 * time.Second}
	if host == "" || host == "unix" {
		// Linux listens on an abstract socket and a file; Xlib tries both.
		path := "/tmp/.X11-unix/X" + num
		conn, err = d.Dial("unix", "@"+path)
		if err != nil {
			conn, err = d.Dial("unix", path)
		}
	} else {
		n, _ := strconv.Atoi(num)
		conn, err = d.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(6000+n)))
	}
	if err != nil {
		return nil, &displayError{fmt.Sprintf("nothing answers on DISPLAY=%s", display)}
	}
	keep := false
	defer func() {
		if !keep {
			conn.Close()
		}
	}()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))

	name, data := xauthCookie(host, num)
	pad := func(n int) int { return (4 - n%4) % 4 }
	var req bytes.Buffer
	req.Write([]byte{'l', 0})
	_ = binary.Write(&req, binary.LittleEndian, [4]uint16{11, 0, uint16(len(name)), uint16(len(data))})
	req.Write([]byte{0, 0})
	req.WriteString(name)
	req.Write(make([]byte, pad(len(name))))
	req.Write(data)
	req.Write(make([]byte, pad(len(data))))
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, nil
	}
	var head [8]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return nil, nil
	}
	switch head[0] {
	case 1: // Success: the rest of the setup is unread, the server does not mind
		keep = true
		_ = conn.SetDeadline(time.Time{})
		return conn, nil
	case 0, 2: // Failed, Authenticate
		reason := make([]byte, head[1])
		_, _ = io.ReadFull(conn, reason)
		why := strings.TrimSpace(string(reason))
		if why == "" {
			why = "authorisation refused"
		}
		return nil, &displayError{fmt.Sprintf("the X server on DISPLAY=%s refused the connection (%s)", display, why)}
	}
	return nil, nil
}

// parseDisplay splits "[host]:number[.screen]"; ok is false for a form
// it does not know (a path, a protocol prefix).
func parseDisplay(display string) (host, num string, ok bool) {
	i := strings.LastIndex(display, ":")
	if i < 0 || strings.HasPrefix(display, "/") || strings.Contains(display[:i], "/") {
		return "", "", false
	}
	host, num = display[:i], display[i+1:]
	num, _, _ = strings.Cut(num, ".")
	if _, err := strconv.Atoi(num); err != nil {
		return "", "", false
	}
	host = strings.Trim(host, "[]")
	return host, num, true
}

// xauthCookie finds the MIT-MAGIC-COOKIE-1 for the display in the
// Xauthority file ($XAUTHORITY, else ~/.Xauthority); none is ("", nil).
func xauthCookie(host, num string) (string, []byte) {
	path := os.Getenv("XAUTHORITY")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", nil
		}
		path = filepath.Join(home, ".Xauthority")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil
	}
	local := host == "" || host == "unix" || host == "localhost" || host == "127.0.0.1"
	hostname, _ := os.Hostname()
	r := bytes.NewReader(b)
	field := func() ([]byte, bool) {
		var n uint16
		if binary.Read(r, binary.BigEndian, &n) != nil {
			return nil, false
		}
		f := make([]byte, n)
		if _, err := io.ReadFull(r, f); err != nil {
			return nil, false
		}
		return f, true
	}
	for {
		var family uint16
		if binary.Read(r, binary.BigEndian, &family) != nil {
			return "", nil
		}
		addr, ok1 := field()
		number, ok2 := field()
		name, ok3 := field()
		data, ok4 := field()
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return "", nil
		}
		if string(name) != "MIT-MAGIC-COOKIE-1" || (len(number) > 0 && string(number) != num) {
			continue
		}
		const familyLocal, familyWild = 256, 65535
		switch {
		case family == familyWild,
			family == familyLocal && local && (string(addr) == hostname || len(addr) == 0),
			!local && (string(addr) == host || net.IP(addr).String() == host):
			return string(name), data
		}
	}
}
