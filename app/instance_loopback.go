package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// instancePortFile is the loopback guard's file in the config dir: the
// port the first Playmark listens on and the secret a "show" must carry.
const instancePortFile = "instance.port"

// claimLoopback is claimInstance where there are no unix sockets
// (Windows; it also runs, and is tested, on Unix). The first Playmark
// listens on a random 127.0.0.1 port and writes "PORT SECRET" to
// instance.port in the config dir (0600, created whole and exclusively;
// the config dir is the user's own). Another local user's program can reach the
// port but not read the secret, so it cannot make the window show. A
// second Playmark reads the file, connects and asks for the window: an
// "ok", a "denied" or a Playmark too busy to answer in time means one
// runs (errAlreadyRunning); a port nobody listens on, or that answers
// something else, is a file left by a crash, taken over.
func claimLoopback(dir string) (*instance, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("single-instance guard: %w", err)
	}
	path := filepath.Join(dir, instancePortFile)
	var err error
	for range 3 {
		var in *instance
		in, err = listenLoopback(path)
		if err == nil {
			return in, nil
		}
		if !errors.Is(err, os.ErrExist) {
			break
		}
		running, askErr := askLoopback(path)
		if running {
			return nil, errAlreadyRunning
		}
		if askErr != nil && errors.Is(askErr, os.ErrNotExist) {
			continue // the other one just quit
		}
		// A file left by a crash: take it over.
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = rmErr
			break
		}
	}
	return nil, fmt.Errorf("single-instance guard: %w", err)
}

// listenLoopback listens on a loopback port and writes the port file; an
// error wrapping os.ErrExist means the file is there already.
func listenLoopback(path string) (*instance, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(b[:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Written whole to a temporary file, then linked into place: another
	// Playmark never reads a half-written file, and the link fails when
	// the file is there already (os.ErrExist).
	port := ln.Addr().(*net.TCPAddr).Port
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	err = os.WriteFile(tmp, fmt.Appendf(nil, "%d %s\n", port, secret), 0o600)
	if err == nil {
		err = os.Link(tmp, path)
	}
	_ = os.Remove(tmp)
	if err != nil {
		ln.Close()
		return nil, err
	}
	cleanup := func() {
		// Remove the file only while it is still ours.
		if p, s, err := readPortFile(path); err == nil && p == port && s == secret {
			_ = os.Remove(path)
		}
	}
	return &instance{ln: ln, secret: secret, cleanup: cleanup}, nil
}

// askLoopback asks the Playmark named by the port file to show its
// window; running says one answered as a Playmark (or is busy).
func askLoopback(path string) (running bool, err error) {
	port, secret, err := readPortFile(path)
	if err != nil {
		return false, err
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		return false, err
	}
	busy, denied, err := askShow(c, secret)
	return err == nil || busy || denied, err
}

// readPortFile reads "PORT SECRET".
func readPortFile(path string) (int, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, "", err
	}
	p, s, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
	port, perr := strconv.Atoi(p)
	if !ok || perr != nil || port <= 0 || port > 65535 || s == "" {
		return 0, "", fmt.Errorf("%s: not a port and a secret", path)
	}
	return port, s, nil
}
