package app

// The household on the command line: household add (one backend per user
// of a server an account reaches, linked to people by name), people
// (list, rename, merge, link, remove), and the --person filter of sync, import,
// export, history, status and unmatched.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"playmark/sync/accounts"
	"playmark/sync/engine"
	"playmark/sync/state"
)

const peopleUsage = `The household: people and their backends.

  household add --server SERVER [--account ACCOUNT] [--users all|NAME,NAME...] [--pin-stdin] [--export on|off]
        one backend per user of the server (all but guests by default), each linked to a person
        by user name (case and spaces ignored: "Anna" on Plex and "anna" on Jellyfin are one
        person); people are added as needed. Protected Plex Home users are asked for their PIN
        (--pin-stdin: one line per protected user, NAME=PIN or the PINs in order).
  people [--json]              everyone, with their backends
  people rename OLD NEW
  people merge FROM INTO       one person: play states merged, the newer wins
  people link PERSON BACKEND   move a backend to another person (it is read whole again next import;
                               an export the mass-change guard held for it is dropped, and the next
                               run decides again for the new person)
  people remove NAME [--with-backends]
                               remove a person and their watch state (a backup is made first);
                               a person with backends is refused unless --with-backends removes
                               those too (or move them first with people link)

  --person NAME on sync, import, export, history, status and unmatched: that person's backends only.
`

// peopleDispatch runs the household commands; done is false for any other
// command.
func (c *cli) peopleDispatch(cmd string, args []string) (done bool, err error) {
	switch cmd {
	case "household":
		return true, c.householdCmd(args)
	case "people", "person":
		return true, c.peopleCmd(args)
	case "help":
		if len(args) > 0 && (args[0] == "people" || args[0] == "household") {
			fmt.Fprint(c.stdout, peopleUsage)
			return true, nil
		}
	}
	return false, nil
}

// personID is the person --person names ("" : 0, everyone).
func (c *cli) personID(ctx context.Context, name string) (int64, error) {
	if strings.TrimSpace(name) == "" {
		return 0, nil
	}
	p, err := c.store.PersonByName(ctx, name)
	if errors.Is(err, state.ErrNotFound) {
		return 0, usagef("no person %q (playmark people lists them)", name)
	}
	return p.ID, err
}

// accountPerson is the person a backend made from an account for user
// joins: the one --person names (it must exist), else the person named
// like the user, added when there is none.
func (c *cli) accountPerson(ctx context.Context, flagName, user string) (int64, error) {
	if strings.TrimSpace(flagName) != "" {
		return c.personID(ctx, flagName)
	}
	p, err := c.store.EnsurePerson(ctx, user)
	return p.ID, err
}

// personBackends names person id's backends.
func (c *cli) personBackends(ctx context.Context, id int64) (map[string]bool, error) {
	bs, err := c.store.Backends(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, b := range bs {
		if b.PersonID == id {
			out[b.Name] = true
		}
	}
	return out, nil
}

// narrowOverview makes a status snapshot person id's: their counts and
// backends.
func (c *cli) narrowOverview(ctx context.Context, snap *engine.Overview, id int64) error {
	if id == 0 {
		return nil
	}
	counts, err := c.store.CountsFor(ctx, id)
	if err != nil {
		return err
	}
	mine, err := c.personBackends(ctx, id)
	if err != nil {
		return err
	}
	snap.Items, snap.Watched, snap.InProgress, snap.Unmatched, snap.Held = counts.Items, counts.Watched, counts.InProgress, counts.Unmatched, counts.Held
	var keep []engine.BackendInfo
	for _, b := range snap.Backends {
		if mine[b.Name] {
			keep = append(keep, b)
		}
	}
	snap.Backends = keep
	return nil
}

// narrowRuns keeps the runs that touched one of person id's backends.
func (c *cli) narrowRuns(ctx context.Context, runs []state.Run, id int64) ([]state.Run, error) {
	if id == 0 {
		return runs, nil
	}
	mine, err := c.personBackends(ctx, id)
	if err != nil {
		return nil, err
	}
	var keep []state.Run
	for _, r := range runs {
		for _, b := range r.Backends {
			if mine[b.Backend] {
				keep = append(keep, r)
				break
			}
		}
	}
	return keep, nil
}

func (c *cli) householdCmd(args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usagef("household: want 'household add --server SERVER [--account ACCOUNT] [--users all|NAME,NAME]' (playmark help people)")
	}
	fs := flag.NewFlagSet("household add", flag.ContinueOnError)
	account := fs.String("account", "", "")
	server := fs.String("server", "", "")
	users := fs.String("users", "all", "")
	pinStdin := fs.Bool("pin-stdin", false, "")
	export := fs.String("export", "off", "")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("household add: unexpected %q", pos[0])
	}
	exp, err := parseOnOff(*export)
	if err != nil {
		return usagef("--export %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, err := c.manager(ctx)
	if err != nil {
		return err
	}
	a, s, err := c.findServer(ctx, m, *account, *server)
	if err != nil {
		return err
	}
	pick := accounts.DefaultSelection(s.Users)
	if strings.TrimSpace(*users) != "all" {
		pick = nil
		for _, n := range strings.Split(*users, ",") {
			if n = strings.TrimSpace(n); n == "" {
				continue
			}
			u, err := accounts.FindUser(s, n)
			if err != nil {
				return usageError{err.Error()}
			}
			pick = append(pick, u)
		}
	}
	if len(pick) == 0 {
		return usagef("household add: no users to add on %s", s.Name)
	}
	pins, err := c.readPINs(pick, *pinStdin)
	if err != nil {
		return err
	}
	bs, addErr := m.AddHousehold(ctx, a, s, pick, pins)
	for i, b := range bs {
		if exp && !b.Export {
			b.Export = true
			if err := c.store.UpdateBackend(ctx, b); err != nil {
				return err
			}
			bs[i] = b
		}
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tUSER\tPERSON\tEXPORT")
	for _, b := range bs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Name, b.UserName, b.Person, onOff(b.Export))
	}
	tw.Flush()
	if !exp && len(bs) > 0 {
		fmt.Fprintln(c.stdout, "Writes are off until you turn them on: playmark backend set NAME --export on (or household add again with --export on)")
	}
	fmt.Fprintln(c.stdout, "People are linked by user name; change a link with: playmark people link PERSON BACKEND")
	if addErr != nil {
		return failedError{fmt.Sprintf("not added: %v", addErr)}
	}
	return nil
}

// findServer finds the server sel among what account acct reaches (""
// : the one account, or the account that reaches sel).
func (c *cli) findServer(ctx context.Context, m *accounts.Manager, acct, sel string) (state.Account, accounts.Server, error) {
	list, err := c.store.Accounts(ctx)
	if err != nil {
		return state.Account{}, accounts.Server{}, err
	}
	if acct != "" {
		a, err := c.store.Account(ctx, acct)
		if err != nil {
			return a, accounts.Server{}, err
		}
		list = []state.Account{a}
	}
	if len(list) == 0 {
		return state.Account{}, accounts.Server{}, usagef("no accounts: sign in first (playmark signin plex, or jellyfin, emby)")
	}
	var problems []string
	for _, a := range list {
		full, err := c.store.Account(ctx, a.Name)
		if err != nil {
			return full, accounts.Server{}, err
		}
		servers, err := m.Servers(ctx, full)
		if err != nil {
			problems = append(problems, describeAccountErr(a.Name, err))
			continue
		}
		s, err := accounts.FindServer(servers, sel)
		if err == nil {
			return full, s, nil
		}
		problems = append(problems, err.Error())
	}
	return state.Account{}, accounts.Server{}, usageError{strings.Join(problems, "; ")}
}

// readPINs asks for the PIN of every protected user in users: from the
// terminal, or with fromStdin one line per protected user (NAME=PIN, or
// the PINs in the users' order).
func (c *cli) readPINs(users []accounts.User, fromStdin bool) (map[string]string, error) {
	pins := map[string]string{}
	var protected []accounts.User
	for _, u := range users {
		if u.Protected {
			protected = append(protected, u)
		}
	}
	if len(protected) == 0 {
		return pins, nil
	}
	if !fromStdin {
		for _, u := range protected {
			fmt.Fprintf(c.stderr, "%s's profile has a PIN.\n", u.Name)
			pin, err := c.readSecret("pin", false)
			if err != nil {
				return nil, err
			}
			pins[u.ID] = pin
		}
		return pins, nil
	}
	r := bufio.NewReader(stdin)
	next := 0
	for range protected {
		line, err := r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			if name, pin, ok := strings.Cut(line, "="); ok {
				pins[name] = pin
			} else if next < len(protected) {
				pins[protected[next].ID] = line
				next++
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
	}
	return pins, nil
}

type personJSON struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	Backends []string `json:"backends"`
}

func (c *cli) peopleCmd(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return c.peopleChange(args)
	}
	fs := flag.NewFlagSet("people", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	people, err := c.store.People(ctx)
	if err != nil {
		return err
	}
	bs, err := c.store.Backends(ctx)
	if err != nil {
		return err
	}
	out := []personJSON{}
	for _, p := range people {
		pj := personJSON{ID: p.ID, Name: p.Name, Backends: []string{}}
		for _, b := range bs {
			if b.PersonID == p.ID {
				pj.Backends = append(pj.Backends, b.Name)
			}
		}
		out = append(out, pj)
	}
	if *asJSON {
		return writeJSON(c.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(c.stdout, "No people yet: they come with the first backend (playmark household add, or backend add).")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PERSON\tBACKENDS")
	for _, p := range out {
		fmt.Fprintf(tw, "%s\t%s\n", p.Name, dash(strings.Join(p.Backends, ", ")))
	}
	return tw.Flush()
}

func (c *cli) peopleChange(args []string) error {
	verb, rest := args[0], args[1:]
	if verb == "remove" || verb == "rm" {
		return c.peopleRemove(rest)
	}
	if len(rest) != 2 {
		return usagef("people: want 'people rename OLD NEW', 'people merge FROM INTO', 'people link PERSON BACKEND' or 'people remove NAME'")
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	person := func(name string) (state.Person, error) {
		p, err := c.store.PersonByName(ctx, name)
		if errors.Is(err, state.ErrNotFound) {
			return p, usagef("no person %q (playmark people lists them)", name)
		}
		return p, err
	}
	switch verb {
	case "rename":
		p, err := person(rest[0])
		if err != nil {
			return err
		}
		if err := c.store.RenamePerson(ctx, p.ID, rest[1]); err != nil {
			if errors.Is(err, state.ErrExists) {
				return usagef("%v: to make them one person, playmark people merge %q %q", err, rest[0], rest[1])
			}
			return err
		}
		fmt.Fprintf(c.stdout, "Renamed %s to %s.\n", p.Name, strings.TrimSpace(rest[1]))
	case "merge":
		from, err := person(rest[0])
		if err != nil {
			return err
		}
		into, err := person(rest[1])
		if err != nil {
			return err
		}
		if from.ID == into.ID {
			return usagef("people merge: %s and %s are the same person", rest[0], rest[1])
		}
		if err := c.store.MergePeople(ctx, from.ID, into.ID); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Merged %s into %s: the newer play state won; the next export brings every backend of %s to it.\n", from.Name, into.Name, into.Name)
	case "link":
		p, err := person(rest[0])
		if err != nil {
			return err
		}
		theirs, err := c.store.PersonBackends(ctx, p.ID)
		if err != nil {
			return err
		}
		if slices.Contains(theirs, rest[1]) {
			fmt.Fprintf(c.stdout, "Backend %s is %s's already.\n", rest[1], p.Name)
			return nil
		}
		held, err := c.store.HeldExports(ctx)
		if err != nil {
			return err
		}
		if err := c.store.LinkBackend(ctx, rest[1], p.ID); err != nil {
			if errors.Is(err, state.ErrNotFound) {
				return usageError{err.Error()}
			}
			return err
		}
		fmt.Fprintf(c.stdout, "Backend %s belongs to %s now; the next import reads it whole.\n", rest[1], p.Name)
		for _, h := range held {
			if h.Backend == rest[1] {
				fmt.Fprintf(c.stdout, "The export held for it (%s to mark unwatched) was planned for its former person: dropped; the next run plans again for %s.\n",
					countOf(h.Unwatches, "item"), p.Name)
			}
		}
	default:
		return usagef("people: unknown %q (rename, merge, link, remove)", verb)
	}
	return nil
}

// peopleRemove removes a person and their play state (the engine backs
// everything up first); a person with backends is refused, saying which
// and what to do, unless --with-backends.
func (c *cli) peopleRemove(args []string) error {
	fs := flag.NewFlagSet("people remove", flag.ContinueOnError)
	with := fs.Bool("with-backends", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("people remove: want 'people remove NAME [--with-backends]'")
	}
	if err := c.open(); err != nil {
		return err
	}
	ctx := context.Background()
	p, err := c.store.PersonByName(ctx, pos[0])
	if errors.Is(err, state.ErrNotFound) {
		return usagef("no person %q (playmark people lists them)", pos[0])
	}
	if err != nil {
		return err
	}
	out, backup, err := c.engine.RemovePerson(ctx, p.ID, *with, false)
	var hb *state.HasBackendsError
	if errors.As(err, &hb) {
		return usagef("%s has %s linked: %s. Nothing was removed. Move %s to someone else first (playmark people link PERSON BACKEND), "+
			"or remove %s with %s: playmark people remove %s --with-backends",
			p.Name, countOf(len(hb.Backends), "backend"), strings.Join(hb.Backends, ", "), them(len(hb.Backends)), p.Name, them(len(hb.Backends)), shellQuote(p.Name))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Removed %s and their watch state (%s).\n", out.Person.Name, countOf(out.Plays, "item"))
	if len(out.Backends) > 0 {
		fmt.Fprintf(c.stdout, "Removed with them: %s.\n", strings.Join(out.Backends, ", "))
	}
	fmt.Fprintf(c.stdout, "A backup of everyone's watch state from before: %s\n", backup)
	return nil
}

func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// shellQuote quotes a name for a command line to copy when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
