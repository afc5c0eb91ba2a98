package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"playmark/sync/accounts"
	"playmark/sync/backend"
	"playmark/sync/backend/kinds"
	"playmark/sync/backend/mediabrowser"
	"playmark/sync/backend/plextv"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// Signing in and accounts on the command line:
//
//	signin plex                                   prints the link and the code, waits for approval
//	signin jellyfin|emby --url URL --user NAME [--password-stdin] [--quick-connect]
//	accounts [--json] | accounts remove NAME
//	servers [--account NAME] [--json]             what the accounts reach, with users
//	backend add NAME --account ACCOUNT [--server SERVER] [--user USER] [--pin-stdin] [--person NAME] [--import MODE] [--export on|off]
//	simulate --type plextv (or --type plex --plextv)   a simulated plex.tv with a server and a household
const accountsUsage = `Accounts (sign in instead of pasting tokens):
  signin plex                prints a link and a code; approve it in the browser; waits
  signin jellyfin|emby --url URL --user NAME [--password-stdin]
  signin jellyfin --url URL --quick-connect     approve the six-digit code from a signed-in Jellyfin app
  accounts [--json]          the accounts signed in to, and the backends made from each
  accounts remove NAME
  servers [--account NAME] [--json]   the servers the accounts reach, with their users
  backend add NAME --account ACCOUNT [--server SERVER] [--user USER] [--pin-stdin] [--person NAME] [--import MODE] [--export on|off]
                             the backend joins the person named like USER (--person: another)
  simulate --type plextv [--listen ADDR] [--items N]   a simulated plex.tv, a Plex server and a household
`

// accountsDispatch runs the account commands; done is false for any
// other command (the caller's dispatch handles it).
func (c *cli) accountsDispatch(cmd string, args []string) (done bool, err error) {
	switch cmd {
	case "signin", "sign-in", "login":
		return true, c.signinCmd(args)
	case "accounts", "account":
		return true, c.accountsCmd(args)
	case "servers":
		return true, c.serversCmd(args)
	case "backend", "backends":
		if len(args) > 0 && args[0] == "add" && hasFlag(args[1:], "account") {
			return true, c.backendAddFromAccount(args[1:])
		}
	case "simulate":
		if hasFlag(args, "plextv") || flagValue(args, "type") == "plextv" {
			return true, c.simulatePlexTVCmd(args)
		}
	case "help":
		if len(args) > 0 && (args[0] == "accounts" || args[0] == "signin") {
			fmt.Fprint(c.stdout, accountsUsage)
			return true, nil
		}
	}
	return false, nil
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "-"+name || a == "--"+name || strings.HasPrefix(a, "--"+name+"=") || strings.HasPrefix(a, "-"+name+"=") {
			return true
		}
	}
	return false
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	return ""
}

func (c *cli) manager(ctx context.Context) (*accounts.Manager, error) {
	if err := c.open(); err != nil {
		return nil, err
	}
	wireAccounts(c.engine, c.store)
	id, err := c.engine.ClientID(ctx)
	if err != nil {
		return nil, err
	}
	return &accounts.Manager{Store: c.store, ClientID: id, PollInterval: signinPoll}, nil
}

// signinPoll is how often a pending sign-in is polled (tests shorten it).
var signinPoll = time.Second

// stdin is where --password-stdin and --pin-stdin read (tests replace it).
var stdin io.Reader = os.Stdin

// readSecret reads one line: from stdin when fromStdin, else from the
// terminal with echo off (prompt on stderr).
func (c *cli) readSecret(prompt string, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return "", usagef("no terminal to ask for the %s on: pass it on standard input (--%s-stdin)", prompt, prompt)
	}
	defer tty.Close()
	fmt.Fprintf(c.stderr, "%s: ", strings.ToUpper(prompt[:1])+prompt[1:])
	off := exec.Command("stty", "-echo")
	off.Stdin = tty
	hidden := off.Run() == nil
	if hidden {
		defer func() {
			on := exec.Command("stty", "echo")
			on.Stdin = tty
			_ = on.Run()
			fmt.Fprintln(c.stderr)
		}()
	}
	line, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (c *cli) signinCmd(args []string) error {
	if len(args) == 0 {
		return usagef("signin: want plex, jellyfin or emby")
	}
	kind, args := args[0], args[1:]
	fs := flag.NewFlagSet("signin "+kind, flag.ContinueOnError)
	serverURL := fs.String("url", "", "")
	user := fs.String("user", "", "")
	pwStdin := fs.Bool("password-stdin", false, "")
	quick := fs.Bool("quick-connect", false, "")
	timeout := fs.Duration("timeout", 15*time.Minute, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("signin %s: unexpected %q", kind, pos[0])
	}
	ctx, cancel := signalContext()
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, *timeout)
	defer cancelT()
	var a state.Account
	switch kind {
	case "plex", "plextv", "plex.tv":
		if *serverURL != "" || *user != "" || *quick {
			return usagef("signin plex: takes no --url, --user or --quick-connect (plex.tv finds your servers)")
		}
		m, err := c.manager(ctx)
		if err != nil {
			return err
		}
		a, err = m.SignInPlex(ctx, func(link, code string) {
			fmt.Fprintf(c.stdout, "Open this link and sign in to Plex to approve Playmark:\n\n  %s\n\nThe code is %s. Waiting for approval (Ctrl+C to give up)...\n", link, code)
		})
		if errors.Is(err, plextv.ErrPinExpired) {
			return failedError{"the sign-in code expired before it was approved; run playmark signin plex again"}
		}
		if err != nil {
			return failedError{"signing in to Plex: " + err.Error()}
		}
	case "jellyfin", "emby":
		k := backend.Kind(kind)
		if *serverURL == "" {
			return usagef("signin %s: --url is required", kind)
		}
		u, err := state.NormalizeURL(*serverURL)
		if err != nil {
			return usageError{err.Error()}
		}
		m, err := c.manager(ctx)
		if err != nil {
			return err
		}
		if *quick {
			if !k.QuickConnect() {
				return usagef("signin %s: %s has no Quick Connect; sign in with --user", k, kinds.Title(k))
			}
			a, err = m.SignInQuickConnect(ctx, u, func(code string) {
				fmt.Fprintf(c.stdout, "In a signed-in Jellyfin app, open Settings > Quick Connect and enter the code:\n\n  %s\n\nWaiting for approval (Ctrl+C to give up)...\n", code)
			})
			switch {
			case errors.Is(err, mediabrowser.ErrQuickConnectDisabled):
				return failedError{"Quick Connect is turned off on this server (Dashboard > General turns it on); sign in with --user instead"}
			case errors.Is(err, mediabrowser.ErrQuickConnectExpired):
				return failedError{"the Quick Connect code expired before it was approved; try again"}
			case err != nil:
				return failedError{"signing in to " + kind + ": " + err.Error()}
			}
			break
		}
		if *user == "" {
			return usagef("signin %s: --user is required (or --quick-connect on Jellyfin)", kind)
		}
		pw, err := c.readSecret("password", *pwStdin)
		if err != nil {
			return err
		}
		a, err = m.SignInPassword(ctx, k, u, *user, pw)
		if errors.Is(err, backend.ErrUnauthorized) {
			return failedError{fmt.Sprintf("%s refused the user name or password; nothing saved", u)}
		}
		if err != nil {
			return failedError{"signing in to " + kind + ": " + err.Error()}
		}
	default:
		return usagef("signin: unknown service %q (want plex, jellyfin or emby)", kind)
	}
	fmt.Fprintf(c.stdout, "Signed in as %s: account %s.\n", a.UserName, a.Name)
	if !a.TokenInKeyring {
		fmt.Fprintln(c.stdout, "(Its token is kept in the config dir: there is no system keyring here.)")
	}
	fmt.Fprintf(c.stdout, "See what it reaches: playmark servers --account %s\n", a.Name)
	return nil
}

type accountJSON struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	URL            string   `json:"url"`
	User           string   `json:"user"`
	UserID         string   `json:"user_id"`
	Admin          bool     `json:"admin"`
	TokenInKeyring bool     `json:"token_in_keyring"`
	Backends       []string `json:"backends"`
	Created        string   `json:"created"`
}

func accountKindName(k string) string {
	switch k {
	case state.AccountPlexTV:
		return "plex.tv"
	case state.AccountJellyfin:
		return "Jellyfin"
	case state.AccountEmby:
		return "Emby"
	}
	return k
}

func (c *cli) accountsCmd(args []string) error {
	if len(args) > 0 && (args[0] == "remove" || args[0] == "rm" || args[0] == "delete") {
		return c.removeNamed("accounts remove", args[1:], func(st *state.Store, name string) error {
			return st.RemoveAccount(context.Background(), name)
		}, "Removed account %s. Backends made from it keep their tokens, but a rejected one is no longer derived again.\n")
	}
	fs := flag.NewFlagSet("accounts", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && pos[0] != "list" {
		return usagef("accounts: unknown subcommand %q (want list or remove)", pos[0])
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	list, err := c.store.Accounts(ctx)
	if err != nil {
		return err
	}
	out := make([]accountJSON, 0, len(list))
	for _, a := range list {
		bs, err := c.store.AccountBackends(ctx, a.ID)
		if err != nil {
			return err
		}
		out = append(out, accountJSON{Name: a.Name, Kind: a.Kind, URL: a.URL, User: a.UserName, UserID: a.UserID, Admin: a.Admin,
			TokenInKeyring: a.TokenInKeyring, Backends: bs, Created: a.Created.Format(time.RFC3339)})
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(out) == 0 {
		fmt.Fprintln(c.stdout, "No accounts. Sign in with: playmark signin plex (or jellyfin, emby)")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVICE\tUSER\tURL\tTOKEN\tBACKENDS")
	for _, a := range out {
		where := "config dir"
		if a.TokenInKeyring {
			where = "keyring"
		}
		bs := strings.Join(a.Backends, ", ")
		if bs == "" {
			bs = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, accountKindName(a.Kind), a.User, a.URL, where, bs)
	}
	return tw.Flush()
}

type serverJSON struct {
	Account  string     `json:"account"`
	Kind     string     `json:"kind"`
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	URL      string     `json:"url"`
	Error    string     `json:"error,omitempty"`
	Owned    bool       `json:"owned"`
	Users    []userJSON `json:"users"`
	UsersErr string     `json:"users_error,omitempty"`
	me       string     // the account's own user id
}

type userJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Relation  string `json:"relation"`
	Admin     bool   `json:"admin,omitempty"`
	Guest     bool   `json:"guest,omitempty"`
	Protected bool   `json:"pin,omitempty"`
}

func (c *cli) serversCmd(args []string) error {
	fs := flag.NewFlagSet("servers", flag.ContinueOnError)
	account := fs.String("account", "", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("servers: unexpected %q", pos[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := c.manager(ctx)
	if err != nil {
		return err
	}
	list, err := c.store.Accounts(ctx)
	if err != nil {
		return err
	}
	if *account != "" {
		var keep []state.Account
		for _, a := range list {
			if a.Name == *account {
				keep = append(keep, a)
			}
		}
		if len(keep) == 0 {
			return fmt.Errorf("account %q: %w", *account, state.ErrNotFound)
		}
		list = keep
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "No accounts. Sign in with: playmark signin plex (or jellyfin, emby)")
		return nil
	}
	var out []serverJSON
	var failed []string
	for _, a := range list {
		full, err := c.store.Account(ctx, a.Name)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		servers, err := m.Servers(ctx, full)
		if err != nil {
			failed = append(failed, describeAccountErr(a.Name, err))
			continue
		}
		for _, s := range servers {
			sj := serverJSON{Account: a.Name, Kind: string(s.Kind), ID: s.ID, Name: s.Name, URL: s.URL, Owned: s.Owned, me: a.UserID}
			if s.Err != nil {
				sj.Error = s.Err.Error()
			}
			if s.UsersErr != nil {
				sj.UsersErr = s.UsersErr.Error()
			}
			for _, u := range s.Users {
				sj.Users = append(sj.Users, userJSON{ID: u.ID, Name: u.Name, Relation: u.Relation, Admin: u.Admin, Guest: u.Guest, Protected: u.Protected})
			}
			out = append(out, sj)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		for _, s := range out {
			where := s.URL
			if where == "" {
				where = "no address answered: " + s.Error
			}
			fmt.Fprintf(c.stdout, "%s (%s, account %s)\n  %s\n  id %s\n", s.Name, s.Kind, s.Account, where, s.ID)
			var users []string
			for _, u := range s.Users {
				var tags []string
				switch u.Relation {
				case state.RelationSelf:
					if u.ID == s.me {
						tags = append(tags, "you")
					} else {
						tags = append(tags, "user") // an admin's token acts for them
					}
				case state.RelationHome:
					tags = append(tags, "home")
				case state.RelationFriend:
					tags = append(tags, "friend")
				}
				if u.Admin {
					tags = append(tags, "admin")
				}
				if u.Guest {
					tags = append(tags, "guest")
				}
				if u.Protected {
					tags = append(tags, "PIN")
				}
				users = append(users, fmt.Sprintf("%s (%s)", u.Name, strings.Join(tags, ", ")))
			}
			fmt.Fprintf(c.stdout, "  users: %s\n", strings.Join(users, ", "))
			if s.UsersErr != "" {
				fmt.Fprintf(c.stdout, "  (not every user could be listed: %s)\n", s.UsersErr)
			}
			fmt.Fprintf(c.stdout, "  add one: playmark backend add NAME --account %s --server %q --user USER\n", s.Account, s.Name)
			fmt.Fprintf(c.stdout, "  or everyone: playmark household add --account %s --server %q\n", s.Account, s.Name)
		}
	}
	if len(failed) > 0 {
		return failedError{strings.Join(failed, "; ")}
	}
	return nil
}

func describeAccountErr(name string, err error) string {
	if errors.Is(err, accounts.ErrAccountRejected) {
		return fmt.Sprintf("account %s: its sign-in was rejected; sign in again (playmark signin ...)", name)
	}
	return fmt.Sprintf("account %s: %v", name, err)
}

// backendAddFromAccount adds a backend from an account: the server's
// address and the user's token come from the account.
func (c *cli) backendAddFromAccount(args []string) error {
	fs := flag.NewFlagSet("backend add", flag.ContinueOnError)
	account := fs.String("account", "", "")
	server := fs.String("server", "", "")
	user := fs.String("user", "", "")
	pinStdin := fs.Bool("pin-stdin", false, "")
	importMode := fs.String("import", "full", "")
	export := fs.String("export", "off", "")
	person := fs.String("person", "", "")
	for _, f := range []string{"type", "url", "token"} {
		if hasFlag(args, f) {
			return usagef("backend add: --%s and --account do not go together (the account gives them)", f)
		}
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("backend add: want one NAME (e.g. playmark backend add anna --account plextv-me --server 'Living room' --user Anna)")
	}
	if err := state.ValidateName(pos[0]); err != nil {
		return usageError{err.Error()}
	}
	mode, err := state.ParseImportMode(*importMode)
	if err != nil {
		return usageError{err.Error()}
	}
	exp, err := parseOnOff(*export)
	if err != nil {
		return usagef("--export %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := c.manager(ctx)
	if err != nil {
		return err
	}
	if _, err := c.store.Backend(ctx, pos[0]); err == nil {
		return fmt.Errorf("backend %q: %w (use backend set to change it)", pos[0], state.ErrExists)
	}
	a, err := c.store.Account(ctx, *account)
	if err != nil {
		return err
	}
	servers, err := m.Servers(ctx, a)
	if err != nil {
		return failedError{describeAccountErr(a.Name, err)}
	}
	s, err := accounts.FindServer(servers, *server)
	if err != nil {
		return usageError{err.Error()}
	}
	u, err := accounts.FindUser(s, *user)
	if err != nil {
		return usageError{err.Error()}
	}
	pin := ""
	if u.Protected {
		if pin, err = c.readSecret("pin", *pinStdin); err != nil {
			return err
		}
	}
	b, l, err := m.NewBackend(ctx, a, s, u, pin)
	if err != nil {
		return failedError{fmt.Sprintf("%s on %s: %v; nothing saved", u.Name, s.Name, err)}
	}
	b.Name, b.Import, b.Export = pos[0], mode, exp
	info, err := c.engine.Test(ctx, b)
	if err != nil {
		return failedError{backend.Describe(b.Name, err) + "; nothing saved"}
	}
	b.ServerID, b.ServerName, b.UserName = info.ServerID, info.Name, info.UserName
	if info.UserID != "" && !b.Kind.TokenIsUser() {
		b.UserID = info.UserID
	}
	// The user's person, by name (case and spaces ignored) unless --person
	// names one, as household add links them (cli_people.go).
	if b.PersonID, err = c.accountPerson(ctx, *person, u.Name); err != nil {
		return err
	}
	if b, err = m.SaveBackend(ctx, b, l); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Added %s backend %s (%s) as %s on %s, from account %s, for %s: import %s, export %s.\n",
		b.Kind, b.Name, b.URL, b.UserName, b.ServerName, a.Name, b.Person, b.Import, onOff(b.Export))
	if !b.Export {
		fmt.Fprintf(c.stdout, "Writes to %s are off until you turn them on: playmark backend set %s --export on\n", b.Name, b.Name)
	}
	return nil
}

// simulatePlexTVCmd runs a simulated plex.tv with one simulated Plex
// server and a household: the owner, Anna (home user), Ben (home user
// with PIN 1234) and Carol (a friend). PINs are approved by themselves
// after a few seconds.
func (c *cli) simulatePlexTVCmd(args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.String("type", "plextv", "")
	fs.Bool("plextv", true, "")
	listen := fs.String("listen", "127.0.0.1:0", "")
	serverListen := fs.String("server-listen", "127.0.0.1:0", "")
	items := fs.Int("items", 500, "")
	approve := fs.Duration("approve-after", 5*time.Second, "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if t := flagValue(args, "type"); t != "" && t != "plextv" && t != "plex" {
		return usagef("simulate: --plextv goes with --type plex (or use --type plextv)")
	}
	if *items < 0 || *items > 5_000_000 {
		return usagef("simulate: --items must be between 0 and 5000000")
	}
	tv, srv, err := StartPlexTV(*listen, *serverListen, *items, *approve)
	if err != nil {
		return err
	}
	defer tv.Close()
	defer srv.Close()
	fmt.Fprintf(c.stdout, "Simulated plex.tv at %s, with a Plex server (%d items) at %s\n", tv.URL(), *items, srv.URL())
	fmt.Fprintln(c.stdout, "  household: owner, Anna (home), Ben (home, PIN 1234), Carol (friend)")
	fmt.Fprintf(c.stdout, "  sign-in codes are approved by themselves after %s\n", *approve)
	fmt.Fprintf(c.stdout, "Sign in:  PLAYMARK_PLEXTV_URL=%s playmark signin plex\n", tv.URL())
	fmt.Fprintln(c.stdout, "(PLAYMARK_PLEXTV_URL is for tests and demos only: it points Playmark at this simulated plex.tv.)")
	fmt.Fprintln(c.stdout, "Press Ctrl+C to stop.")
	ctx, cancel := signalContext()
	defer cancel()
	<-ctx.Done()
	return nil
}

// StartPlexTV starts a simulated plex.tv and one simulated Plex server
// with a household: the owner, Anna (home), Ben (home, PIN 1234) and
// Carol (friend). PINs approve themselves after approve (0: never).
func StartPlexTV(listen, serverListen string, items int, approve time.Duration) (*simulate.PlexTV, *simulate.PlexServer, error) {
	cat := simulate.Generate(simulate.GenerateOptions{Items: items, Seed: 1})
	srv, err := simulate.NewPlex(cat, simulate.Options{Listen: serverListen, Name: "Simulated Plex",
		Watches: simulate.GenerateWatches(cat, 101, time.Now().UTC().Add(-time.Hour))})
	if err != nil {
		return nil, nil, err
	}
	tv, err := simulate.NewPlexTV(simulate.PlexTVOptions{Listen: listen, AutoApprove: approve})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	fail := func(err error) (*simulate.PlexTV, *simulate.PlexServer, error) {
		tv.Close()
		srv.Close()
		return nil, nil, err
	}
	if _, err := tv.AddHomeUser("Anna", "", true); err != nil {
		return fail(err)
	}
	if _, err := tv.AddHomeUser("Ben", "1234", false); err != nil {
		return fail(err)
	}
	if _, err := tv.AddFriend("Carol"); err != nil {
		return fail(err)
	}
	if err := tv.AddServer(srv); err != nil {
		return fail(err)
	}
	return tv, srv, nil
}
