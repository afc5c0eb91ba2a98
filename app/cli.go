// Package app wires Playmark together: the store, the engine, the
// scheduler, the desktop window and tray, the command line, launch at
// login and the single-instance guard. Nothing imports app.
//
// Where things are: cli.go parses the global flags and dispatches a
// command to its noun's file (cli_backend.go, cli_task.go, cli_run.go,
// ...); open.go opens a config dir for all of them (openCore); desktop.go
// is the desktop app's lifecycle; cli_daemon.go the daemon's; events.go
// the webhooks and live sockets.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "playmark/app/locale" // before Fyne reads the locale: no "Error parsing user locale C"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// Version is the version shown by --version and in the window; the build
// sets it with -ldflags "-X playmark/app.Version=...".
var Version = "0.1.0-dev"

// Exit codes (the README's "The command line" lists them).
const (
	exitOK        = 0
	exitFailed    = 1   // a run failed on at least one backend; a server could not be reached or refused
	exitUsage     = 2   // what was typed or configured is wrong (a token or user refused at backend add/set); nothing done
	exitBusy      = 3   // another run is in progress; nothing done, try again
	exitCancelled = 130 // stopped by Ctrl+C or SIGTERM (128 + SIGINT, as shells count it)
)

// usageError is an error in what the user typed: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// failedError is a run that failed on a backend: exit code 1.
type failedError struct{ msg string }

func (e failedError) Error() string { return e.msg }

// cancelledError is a command stopped by Ctrl+C or SIGTERM: exit code 130.
type cancelledError struct{ msg string }

func (e cancelledError) Error() string { return e.msg }

// cli is one invocation of the command line.
type cli struct {
	stdout, stderr io.Writer
	stdin          io.Reader // --token-stdin and the token prompt; nil is os.Stdin
	configDir      string
	// ctx, when set, is the parent of the commands' contexts (tests
	// cancel it as Ctrl+C would).
	ctx context.Context
	// core is the opened config dir (open, openRead); store, engine and
	// log are its.
	core   *Core
	store  *state.Store
	engine *engine.Engine
	log    *slog.Logger
}

// Main runs Playmark with args (without the program name) and returns the
// process exit code.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	return (&cli{stdout: stdout, stderr: stderr}).main(args)
}

// main runs one command line on c (its streams, stdin and ctx set) and
// returns the exit code.
func (c *cli) main(args []string) int {
	stdout, stderr := c.stdout, c.stderr
	global := flag.NewFlagSet("playmark", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	configDir := global.String("config-dir", "", "")
	version := global.Bool("version", false, "")
	help := global.Bool("help", false, "")
	hidden := global.Bool("hidden", false, "") // desktop app: start in the tray (launch at login)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h
			printHelp(stdout, "")
			return exitOK
		}
		fmt.Fprintf(stderr, "playmark: %v (playmark --help lists the commands)\n", err)
		return exitUsage
	}
	if *version {
		fmt.Fprintf(stdout, "playmark %s\n", Version)
		return exitOK
	}
	rest := global.Args()
	if *help || wantsHelp(rest) {
		printHelp(stdout, helpTopic(rest))
		return exitOK
	}
	dir, err := resolveConfigDir(*configDir)
	if err != nil {
		fmt.Fprintf(stderr, "playmark: %v\n", err)
		return exitUsage
	}
	if len(rest) == 0 {
		return runDesktop(dir, *hidden, stderr)
	}
	c.configDir = dir
	err = c.explain(c.dispatch(rest))
	if c.core != nil {
		c.core.Close()
	}
	code, msg := exitCode(err)
	if msg != "" {
		fmt.Fprintf(stderr, "playmark: %s\n", oneLine(msg))
	}
	return code
}

// exitCode is the exit code of a command's error and the sentence to
// print ("" for none).
func exitCode(err error) (int, string) {
	var ue usageError
	var fe failedError
	var ce cancelledError
	switch {
	case err == nil:
		return exitOK, ""
	case errors.As(err, &ue):
		return exitUsage, ue.msg
	case errors.As(err, &ce):
		return exitCancelled, ce.msg
	case errors.As(err, &fe):
		return exitFailed, fe.msg
	case errors.Is(err, state.ErrBusy):
		return exitBusy, err.Error() + "; nothing was done, try again when it has finished"
	case errors.Is(err, context.Canceled):
		return exitCancelled, "cancelled"
	case errors.Is(err, state.ErrTooNew), errors.Is(err, state.ErrNotFound), errors.Is(err, state.ErrExists):
		return exitUsage, err.Error()
	default:
		return exitFailed, err.Error()
	}
}

// oneLine bounds an error to one line: the first line, at most 1000
// characters (a damaged database's sentence names two paths and the
// restore command). Server answers are already bounded where they are
// worded (backend.StatusError); whole answers belong in the log.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	if r := []rune(s); len(r) > 1000 {
		s = string(r[:999]) + "…"
	}
	return s
}

// resolveConfigDir picks the config dir: the flag, then
// PLAYMARK_CONFIG_DIR, then the OS's user config dir + /playmark.
func resolveConfigDir(flagDir string) (string, error) {
	if flagDir != "" {
		return filepath.Abs(flagDir)
	}
	if d := os.Getenv("PLAYMARK_CONFIG_DIR"); d != "" {
		return filepath.Abs(d)
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config dir: %w (pass --config-dir)", err)
	}
	return filepath.Join(base, "playmark"), nil
}

func (c *cli) dispatch(args []string) error {
	cmd, rest := args[0], args[1:]
	if done, err := c.accountsDispatch(cmd, rest); done { // cli_accounts.go
		return err
	}
	if done, err := c.peopleDispatch(cmd, rest); done { // cli_people.go
		return err
	}
	switch cmd {
	case "backend", "backends":
		return c.backendCmd(rest)
	case "tasks", "task":
		return c.tasksCmd(rest)
	case "status":
		return c.statusCmd(rest)
	case "history":
		return c.historyCmd(rest)
	case "import", "export", "sync":
		return c.runCmd(cmd, rest)
	case "held":
		return c.heldCmd(rest)
	case "unmatched":
		return c.unmatchedCmd(rest)
	case "backup":
		return c.backupCmd(rest)
	case "restore":
		return c.restoreCmd(rest)
	case "simulate":
		return c.simulateCmd(rest)
	case "demo":
		return c.demoCmd(rest)
	case "daemon":
		return c.daemonCmd(rest)
	case "webhooks", "webhook":
		return c.webhooksCmd(rest)
	case "help":
		topic := helpTopic(rest)
		if len(rest) > 0 && topic == "" {
			return usagef("help: unknown command %q (playmark help lists the commands)", rest[0])
		}
		printHelp(c.stdout, topic)
		return nil
	}
	return usagef("unknown command %q (playmark help lists the commands)", cmd)
}

// parse parses flags and positional arguments in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v (playmark %s --help)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func parseOnOff(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q: want on or off", s)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// removeNamed runs a "CMD remove NAME" command: one NAME, the store
// opened, remove called, then done printed with the name.
func (c *cli) removeNamed(cmd string, args []string, remove func(*state.Store, string) error, done string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s: want one NAME", cmd)
	}
	if err := c.open(); err != nil {
		return err
	}
	if err := remove(c.store, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, done, pos[0])
	return nil
}

func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ago says how long ago t was, in a few words.
func ago(t time.Time) string { return engine.Ago(t, time.Now()) }

// signalContext is cancelled by Ctrl+C or SIGTERM, so that a run stops
// cleanly (its current batch rolled back, the run recorded as cancelled).
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// runContext is signalContext under c.ctx, when set.
func (c *cli) runContext() (context.Context, context.CancelFunc) {
	parent := c.ctx
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}
