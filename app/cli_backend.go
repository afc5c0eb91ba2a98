package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"playmark/sync/backend"
	"playmark/sync/engine"
	"playmark/sync/live"
	"playmark/sync/state"
)

// backendCmd runs "backend add|list|set|test|remove": the media servers
// Playmark syncs, each checked against its server before it is saved
// (resolveUser).
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
