// Package app wires Playmark together: the store, the engine, the
// scheduler, the desktop window and tray, the command line, launch at
// login and the single-instance guard. Nothing imports app.
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
	"text/tabwriter"
	"time"

	_ "playmark/app/locale" // before Fyne reads the locale: no "Error parsing user locale C"
	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/live"
	"playmark/sync/schedule"
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
	ctx    context.Context
	store  *state.Store
	engine *engine.Engine
	log    *slog.Logger
}

const usageText = `Playmark keeps watched marks and resume positions in step across Plex, Jellyfin and Emby.

Usage:
  playmark [--config-dir DIR] [--hidden]      start the desktop app (window and tray; --hidden: tray only)
  playmark [--config-dir DIR] COMMAND [ARGS]

Backends:
  backend add NAME --type plex|jellyfin|emby --url URL [--token-stdin] [--user USER]
                   [--import off|metadata|full] [--export on|off]
  backend list [--json]
  backend set NAME [--url URL] [--token-stdin] [--user USER] [--import MODE] [--export on|off]
                   [--trust-cert SHA256|off]   trust a self-signed certificate (shown by backend test)
                   [--live on|off]   keep the server's notification socket open: changes within seconds
  backend test NAME          connect; print the server's name, version, id and the user
  backend remove NAME

Accounts and the household (sign in instead of pasting tokens):
  signin plex                print a link and a code, wait for the sign-in
  signin jellyfin|emby --url URL --user NAME [--password-stdin] [--quick-connect]
  accounts [--json] | accounts remove NAME
  servers [--account NAME] [--json]   the servers the accounts reach, with their users
  backend add NAME --account NAME [--server S] [--user U] [--pin-stdin]
  household add --server NAME [--account A] [--users all|U1,U2] [--export on|off]
                             one backend per user, each linked to a person by name
  people [--json] | people rename OLD NEW | people merge FROM INTO | people link PERSON BACKEND

Sync:
  import [--backend NAME]... [--full] [--dry-run]
  export [--backend NAME]... [--full] [--dry-run] [--yes]
  sync [--full] [--dry-run] [--yes]   import, then export
                             (sync, import, export, history, status, unmatched: --person NAME
                             for one person's backends only)
  held                       exports held by the mass-change guard
  held apply|discard NAME    apply or drop a held export
  unmatched [--limit N]      items that could not be matched (no usable ids)

Backup:
  backup [FILE]              the play state as portable JSON lines (no tokens); no FILE: into the backups folder
  restore FILE --backend NAME [--dry-run] [--yes]   make one backend's marks match a backup

Schedules and history:
  tasks                      import and export: on/off, cron, next three runs
  tasks set import|export [--cron EXPR] [--on|--off]
  status [--json]
  history [--json] [--limit N] [--run ID]

Changes within seconds (while the app or daemon runs):
  webhooks [--listen ADDR | --off]   the webhook listener and each backend's URL to paste into its server

Other:
  daemon [--verbose]         schedules, webhooks and live updates without a window or tray
  simulate --type plex|jellyfin|emby [--listen ADDR] [--items N] [--token T] [--version V]
  demo [--items N] [--headless]   three simulated servers and the app, in a throwaway config dir
  --version

The config dir defaults to $PLAYMARK_CONFIG_DIR, else the user's config dir + /playmark.
Tokens are kept in the system keyring (Secret Service; Windows: Credential Manager; macOS: Keychain)
when there is one, else in the config dir;
PLAYMARK_KEYRING=off keeps them in the config dir.
Tokens: --token-stdin reads the token from standard input, else $PLAYMARK_TOKEN, else Playmark asks
for it on a terminal (not echoed); --token TOKEN also works but shows it to other local users.

Exit codes: 0 done; 1 a run failed on at least one backend, or a server could not be reached or
refused; 2 what was typed or configured is wrong (including a token or user the server refuses at
backend add/set), nothing done; 3 another run is in progress, nothing done; 130 stopped by Ctrl+C.

playmark COMMAND --help shows a command's usage with an example.
`

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
	if c.store != nil {
		c.store.Close()
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

func (c *cli) backendCmd(args []string) error {
	if len(args) == 0 {
		return usagef("backend: want add, list, set, test or remove")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add":
		return c.backendAdd(args)
	case "list", "ls":
		return c.backendList(args)
	case "set", "edit":
		return c.backendSet(args)
	case "test":
		return c.backendTest(args)
	case "remove", "rm", "delete":
		return c.removeNamed("backend remove", args, func(st *state.Store, name string) error {
			return st.RemoveBackend(context.Background(), name)
		}, "Removed backend %s (its items stay in the local state for the other backends).\n")
	}
	return usagef("backend: unknown subcommand %q (want add, list, set, test or remove)", sub)
}

type backendFlags struct {
	kind, url, token, user, importMode, export, trustCert string
	live                                                  string
	tokenStdin                                            bool
}

func (f *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kind, "type", "", "")
	fs.StringVar(&f.url, "url", "", "")
	fs.StringVar(&f.token, "token", "", "")
	fs.BoolVar(&f.tokenStdin, "token-stdin", false, "")
	fs.StringVar(&f.user, "user", "", "")
	fs.StringVar(&f.importMode, "import", "", "")
	fs.StringVar(&f.export, "export", "", "")
	fs.StringVar(&f.trustCert, "trust-cert", "", "")
	fs.StringVar(&f.live, "live", "", "")
}

// apply validates the given flags and applies them to b.
func (f *backendFlags) apply(b *state.Backend, set map[string]bool) error {
	if set["type"] {
		k, err := backend.ParseKind(f.kind)
		if err != nil {
			return usageError{err.Error()}
		}
		b.Kind = k
	}
	if set["url"] {
		u, err := state.NormalizeURL(f.url)
		if err != nil {
			return usageError{err.Error()}
		}
		b.URL = u
	}
	if set["user"] {
		b.UserID = f.user
	}
	if set["import"] {
		m, err := state.ParseImportMode(f.importMode)
		if err != nil {
			return usageError{err.Error()}
		}
		b.Import = m
	}
	if set["export"] {
		on, err := parseOnOff(f.export)
		if err != nil {
			return usagef("--export %v", err)
		}
		b.Export = on
	}
	if set["live"] {
		on, err := parseOnOff(f.live)
		if err != nil {
			return usagef("--live %v", err)
		}
		b.Options.Live = on
	}
	if set["trust-cert"] {
		pin := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(f.trustCert))
		switch {
		case pin == "off" || pin == "":
			b.Options.TrustCert = ""
		case len(pin) == 64 && strings.Trim(pin, "0123456789abcdef") == "":
			b.Options.TrustCert = pin
		default:
			return usagef("--trust-cert wants the certificate's SHA-256 fingerprint (64 hex digits) or off")
		}
	}
	return nil
}

func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func (c *cli) backendAdd(args []string) error {
	fs := flag.NewFlagSet("backend add", flag.ContinueOnError)
	var f backendFlags
	f.register(fs)
	noTest := fs.Bool("no-test", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("backend add: want one NAME (e.g. playmark backend add living-room --type plex --url http://host:32400 --token-stdin)")
	}
	if err := state.ValidateName(pos[0]); err != nil {
		return usageError{err.Error()}
	}
	set := flagsSet(fs)
	for _, req := range []string{"type", "url"} {
		if !set[req] {
			return usagef("backend add: --%s is required (playmark backend add --help)", req)
		}
	}
	b := state.Backend{Name: pos[0], Import: state.ImportFull}
	if err := f.apply(&b, set); err != nil {
		return err
	}
	if b.Token, _, err = c.token(&f, set, b.Name, true); err != nil {
		return err
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := c.store.Backend(ctx, b.Name); err == nil {
		return fmt.Errorf("backend %q: %w (use backend set to change it)", b.Name, state.ErrExists)
	}
	if !*noTest {
		if err := c.resolveUser(ctx, &b); err != nil {
			return err
		}
	}
	b, err = c.store.AddBackend(ctx, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Added %s backend %s (%s): import %s, export %s.\n", b.Kind, b.Name, b.URL, b.Import, onOff(b.Export))
	if b.ServerName != "" {
		fmt.Fprintf(c.stdout, "Connected to %s as %s.\n", b.ServerName, b.UserName)
	}
	if !b.Export {
		fmt.Fprintf(c.stdout, "Writes to %s are off until you turn them on: playmark backend set %s --export on\n", b.Name, b.Name)
	}
	return nil
}

// resolveUser connects to the backend (engine.Connect) before it is
// saved: a server of another type, a rejected token or a user the server
// does not have refuses the save (exit 2, nothing saved); a token without
// a user of its own asks for --user; a user given by name becomes its id.
// Only a server that does not answer is saved, with a warning: it may be
// off right now.
func (c *cli) resolveUser(ctx context.Context, b *state.Backend) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := c.engine.Connect(ctx, *b)
	switch {
	case errors.Is(err, backend.ErrUnreachable):
		fmt.Fprintf(c.stderr, "warning: %s; saved anyway, test it later with: playmark backend test %s\n", oneLine(backend.Describe(b.Name, err)), b.Name)
		return nil
	case errors.Is(err, engine.ErrWrongKind), errors.Is(err, engine.ErrNoSuchUser):
		return usagef("%v; nothing saved", err)
	case errors.Is(err, backend.ErrUnauthorized):
		return usagef("%s; nothing saved", backend.Describe(b.Name, err))
	case err != nil:
		return usagef("%s; nothing saved", backend.Describe(b.Name, err))
	case conn.NeedUser:
		var names []string
		for _, u := range conn.Users {
			names = append(names, fmt.Sprintf("%s (%s)", u.Name, u.ID))
		}
		if len(names) == 0 {
			return usagef("%s: this token has no user of its own; pass --user with the user's name or id; nothing saved", b.Name)
		}
		return usagef("%s: this token has no user of its own; pass --user with one of: %s; nothing saved", b.Name, strings.Join(names, ", "))
	}
	info := conn.Info
	b.ServerID, b.ServerName, b.UserName = info.ServerID, info.Name, info.UserName
	if info.UserID != "" {
		b.UserID = info.UserID
	}
	return nil
}

func (c *cli) backendSet(args []string) error {
	fs := flag.NewFlagSet("backend set", flag.ContinueOnError)
	var f backendFlags
	f.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("backend set: want one NAME")
	}
	set := flagsSet(fs)
	if set["type"] {
		return usagef("backend set: the type of a backend cannot change; remove it and add it again")
	}
	if len(set) == 0 {
		return usagef("backend set: nothing to change (give --url, --token-stdin, --user, --import or --export)")
	}
	token, newToken, err := c.token(&f, set, pos[0], false)
	if err != nil {
		return err
	}
	if newToken {
		set["token"] = true
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	b, err := c.store.Backend(ctx, pos[0])
	if errors.Is(err, state.ErrTokenUnavailable) && newToken {
		// The old token cannot be read; the new one replaces it anyway.
		err = nil
	}
	if err != nil {
		return err
	}
	if err := f.apply(&b, set); err != nil {
		return err
	}
	if newToken {
		b.Token = token
	}
	if set["trust-cert"] && b.Options.TrustCert != "" {
		fmt.Fprintf(c.stderr, "warning: %s now trusts the certificate %s even though no authority vouches for it\n", b.Name, b.Options.TrustCert)
	}
	if set["url"] || set["token"] || set["user"] || set["trust-cert"] {
		if err := c.resolveUser(ctx, &b); err != nil {
			return err
		}
	}
	if b.Options.Live && (set["live"] || set["token"] || set["url"]) {
		if err := live.CheckToken(ctx, c.engine, b); err != nil {
			return usageError{err.Error()} // nothing saved
		}
	}
	if err := c.store.UpdateBackend(ctx, b); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Saved %s: import %s, export %s.\n", b.Name, b.Import, onOff(b.Export))
	return nil
}

func (c *cli) backendList(args []string) error {
	fs := flag.NewFlagSet("backend list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := c.open(); err != nil {
		return err
	}
	bs, err := c.store.Backends(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			URL        string `json:"url"`
			Token      string `json:"token"`
			User       string `json:"user_id"`
			UserName   string `json:"user_name,omitempty"`
			ServerName string `json:"server_name,omitempty"`
			ServerID   string `json:"server_id,omitempty"`
			Import     string `json:"import"`
			Export     bool   `json:"export"`
			LastImport string `json:"last_import,omitempty"`
			LastExport string `json:"last_export,omitempty"`
			LastError  string `json:"last_error,omitempty"`
			InKeyring  bool   `json:"token_in_keyring"`
			Person     string `json:"person"`
		}
		out := []row{}
		for _, b := range bs {
			out = append(out, row{b.Name, string(b.Kind), b.URL, b.MaskedToken(), b.UserID, b.UserName, b.ServerName, b.ServerID,
				string(b.Import), b.Export, rfc(b.LastImport), rfc(b.LastExport), b.LastError, b.TokenInKeyring, b.Person})
		}
		return writeJSON(c.stdout, out)
	}
	if len(bs) == 0 {
		fmt.Fprintln(c.stdout, "No backends yet. Add one: playmark backend add NAME --type plex|jellyfin|emby --url URL --token-stdin (playmark backend add --help)")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPERSON\tTYPE\tURL\tUSER\tTOKEN\tIMPORT\tEXPORT\tLAST IMPORT\tSTATUS")
	for _, b := range bs {
		status := "ok"
		if b.LastError != "" {
			status = oneLine(b.LastError)
		} else if b.LastImport.IsZero() {
			status = "never synced"
		}
		user := b.UserName
		if user == "" {
			user = b.UserID
		}
		token := b.MaskedToken()
		if b.TokenInKeyring {
			token += " (keyring)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Name, b.Person, b.Kind, b.URL, dash(user), token, b.Import, onOff(b.Export), ago(b.LastImport), status)
	}
	return tw.Flush()
}

func (c *cli) backendTest(args []string) error {
	fs := flag.NewFlagSet("backend test", flag.ContinueOnError)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("backend test: want one NAME")
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := c.store.Backend(ctx, pos[0])
	if err != nil {
		return err
	}
	info, err := c.engine.Test(ctx, b)
	if err != nil {
		return failedError{err.Error()}
	}
	fmt.Fprintf(c.stdout, "%s: %s %s (%s)\n", b.Name, info.Product, info.Version, info.Name)
	fmt.Fprintf(c.stdout, "  server id: %s\n  user:      %s (%s)\n", info.ServerID, dash(info.UserName), dash(info.UserID))
	if b.ServerID != "" && info.ServerID != b.ServerID {
		return failedError{fmt.Sprintf("%s answers as another server than the one it was set up with (%s)", b.URL, b.ServerID)}
	}
	return nil
}

func (c *cli) tasksCmd(args []string) error {
	if len(args) > 0 && args[0] == "set" {
		return c.tasksSet(args[1:])
	}
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("tasks: unknown argument %q (did you mean tasks set?)", pos[0])
	}
	if err := c.open(); err != nil {
		return err
	}
	tasks, err := c.store.Tasks(context.Background())
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		type row struct {
			Name    string   `json:"name"`
			Cron    string   `json:"cron"`
			Enabled bool     `json:"enabled"`
			Next    []string `json:"next"`
		}
		var out []row
		for _, t := range tasks {
			r := row{Name: t.Name, Cron: t.Cron, Enabled: t.Enabled, Next: []string{}}
			next, _ := schedule.Next(t.Cron, now, 3)
			for _, n := range next {
				r.Next = append(r.Next, n.Format(time.RFC3339))
			}
			out = append(out, r)
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTATE\tCRON\tNEXT RUNS (local time)")
	for _, t := range tasks {
		next, err := schedule.Next(t.Cron, now, 3)
		var when []string
		for _, n := range next {
			when = append(when, n.Local().Format("Mon 02 Jan 15:04"))
		}
		desc := strings.Join(when, ", ")
		if err != nil {
			desc = err.Error()
		} else if !t.Enabled {
			desc = "(off) would run " + desc
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, onOff(t.Enabled), t.Cron, desc)
	}
	return tw.Flush()
}

func (c *cli) tasksSet(args []string) error {
	fs := flag.NewFlagSet("tasks set", flag.ContinueOnError)
	cron := fs.String("cron", "", "")
	on := fs.Bool("on", false, "")
	off := fs.Bool("off", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "import" && pos[0] != "export") {
		return usagef("tasks set: want import or export (e.g. playmark tasks set import --cron '0 */6 * * *' --on)")
	}
	set := flagsSet(fs)
	if *on && *off {
		return usagef("tasks set: --on and --off together")
	}
	if !set["cron"] && !*on && !*off {
		return usagef("tasks set: nothing to change (give --cron, --on or --off)")
	}
	if set["cron"] {
		if err := schedule.Validate(*cron); err != nil {
			return usagef("%v; nothing saved", err)
		}
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	tasks, err := c.store.Tasks(ctx)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if t.Name != pos[0] {
			continue
		}
		if set["cron"] {
			t.Cron = strings.Join(strings.Fields(*cron), " ")
		}
		if *on {
			t.Enabled = true
		}
		if *off {
			t.Enabled = false
		}
		if err := c.store.SetTask(ctx, t); err != nil {
			return err
		}
		next, _ := schedule.Next(t.Cron, time.Now(), 1)
		msg := fmt.Sprintf("Task %s: %s, cron %q", t.Name, onOff(t.Enabled), t.Cron)
		if t.Enabled && len(next) > 0 {
			msg += ", next run " + next[0].Local().Format("Mon 02 Jan 15:04")
		}
		fmt.Fprintln(c.stdout, msg+".")
		fmt.Fprintln(c.stdout, "Schedules run while the desktop app or playmark daemon is running.")
	}
	return nil
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
