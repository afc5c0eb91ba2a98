package app

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// errAlreadyRunning means another desktop Playmark runs on the same config
// dir; it was asked to show its window.
var errAlreadyRunning = errors.New("playmark is already running")

// instance is the single-instance guard of the desktop app. The first
// Playmark on a config dir listens where the others can find it: on Unix
// a unix socket in the config dir (instance_unix.go), elsewhere (Windows,
// where Wine and older Windows have no unix sockets) a loopback TCP port
// written with a secret to a file in the config dir
// (instance_loopback.go). A second one connects, sends "show" (and the
// secret), and exits, so that one engine and one scheduler run per config
// dir and starting Playmark again brings its window forward.
type instance struct {
	ln      net.Listener
	secret  string // required after "show"; "" when the socket's mode guards it
	cleanup func() // removes what claimed the dir (the socket, the port file)
}

// askShow asks the Playmark at the other end of c to show its window, and
// closes c. It returns an error when the answer is not "ok"; busy says the
// other end accepted but did not answer in time (a Playmark still
// starting), denied that it answered as a Playmark would to a wrong
// secret.
func askShow(c net.Conn, secret string) (busy, denied bool, err error) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	msg := "show"
	if secret != "" {
		msg += " " + secret
	}
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return false, false, err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout(), false, fmt.Errorf("no answer from the running Playmark: %w", err)
	}
	switch strings.TrimSpace(reply) {
	case "ok":
		return false, false, nil
	case "denied":
		return false, true, errors.New("the running Playmark refused the request")
	}
	return false, false, fmt.Errorf("unexpected answer %q from the running Playmark", reply)
}

// serve answers other instances until ctx ends: "show" calls onShow.
func (in *instance) serve(ctx context.Context, onShow func()) {
	go func() {
		<-ctx.Done()
		in.ln.Close()
	}()
	for {
		c, err := in.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch {
			case cmd != "show":
				fmt.Fprintln(c, "unknown command")
			case subtle.ConstantTimeCompare([]byte(arg), []byte(in.secret)) != 1:
				fmt.Fprintln(c, "denied")
			default:
				onShow()
				fmt.Fprintln(c, "ok")
			}
		}()
	}
}

// Close stops listening and removes what claimed the config dir.
func (in *instance) Close() error {
	err := in.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	in.cleanup()
	return err
}
