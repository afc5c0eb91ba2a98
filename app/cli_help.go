package app

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// usageText is "playmark help": every command on one screen.
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
  people remove NAME [--with-backends]   a person and their watch state (after a backup)

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

// commandHelp is each command's usage, what it does and an example, as
// printed by "playmark COMMAND --help" and "playmark help COMMAND".
var commandHelp = map[string]string{
	"signin":    accountsUsage + "\nExample:\n  playmark signin jellyfin --url http://192.168.1.11:8096 --user anna --password-stdin < pw.txt\n",
	"accounts":  accountsUsage + "\nExample:\n  playmark accounts\n",
	"servers":   accountsUsage + "\nExample:\n  playmark servers --account plex\n",
	"household": peopleUsage + "\nExample:\n  playmark household add --server 'Living room' --users all --export on\n",
	"people":    peopleUsage + "\nExample:\n  playmark people merge 'Anna B' Anna\n",
	"people remove": `Usage: playmark people remove NAME [--with-backends]

Removes a person and their watch state: what they watched, started and
un-watched. The films and episodes stay (they are everyone's), and so does
history. A backup of everyone's watch state is made first, in the backups
folder. A person who still has backends is refused, naming them: move each
to someone else with playmark people link PERSON BACKEND, or add
--with-backends to remove those backends too (their tokens and what
Playmark knew of them; the servers themselves are not touched).

Example:
  playmark people remove 'Guest room'
`,
	"backend add": `Usage: playmark backend add NAME --type plex|jellyfin|emby --url URL [--token-stdin | --token TOKEN] [--user USER]
                            [--import off|metadata|full] [--export on|off] [--no-test]

Adds a media server. Playmark connects first: a rejected token, a user the
server does not have, or a server of another type is refused, and nothing is
saved. A server that does not answer is saved with a warning (it may be off).
The token: --token-stdin reads it from standard input, else $PLAYMARK_TOKEN,
else Playmark asks for it (hidden) on a terminal. --token TOKEN works too, but
other local users can read it in the process list and it lands in the shell
history. Jellyfin and Emby: --user is the user's name or id; without it, a
token that belongs to a user uses that user. Writes to a new backend are off
until --export on.

Example:
  playmark backend add basement --type jellyfin --url http://192.168.1.10:8096 --user anna --token-stdin < token.txt
`,
	"backend list": `Usage: playmark backend list [--json]

Lists the backends: type, URL, user, the token (masked), import and export,
the last import and the last error.

Example:
  playmark backend list
`,
	"backend set": `Usage: playmark backend set NAME [--url URL] [--token-stdin | --token TOKEN] [--user USER]
                            [--import off|metadata|full] [--export on|off]
                            [--trust-cert SHA256|off] [--live on|off]

Changes a backend. A new URL, token or user is checked against the server
first, as backend add does. --trust-cert trusts exactly the self-signed
certificate with that fingerprint (backend test shows it). --live keeps the
server's notification socket open, so that changes arrive within seconds.

Example:
  playmark backend set basement --export on
`,
	"backend test": `Usage: playmark backend test NAME

Connects to a backend and prints the server's name, version and id and the
user, changing nothing. Exit 1 when the server cannot be reached or refuses.

Example:
  playmark backend test basement
`,
	"backend remove": `Usage: playmark backend remove NAME

Removes a backend and its token. The items it brought stay in the local state
for the other backends.

Example:
  playmark backend remove basement
`,
	"import": `Usage: playmark import [--backend NAME]... [--full] [--dry-run] [--quiet]

Reads the play states of every backend whose import is on (or of the named
ones) into the local state. --full reads everything, not only what changed
since the last import. --dry-run shows what would change and writes nothing:
what each server holds (new items are only learned: that changes nothing on a
server) and, per server, what an export would then change there (marked
watched, marked unwatched, resume positions), its export on or off.

Example:
  playmark import --backend basement --dry-run
`,
	"export": `Usage: playmark export [--backend NAME]... [--full] [--dry-run] [--yes] [--quiet]

Writes the local state to every backend whose export is on (or to the named
ones). An export that would mark many watched items unwatched is held until
you check it (playmark held); --yes applies it anyway.

Example:
  playmark export --dry-run
`,
	"sync": `Usage: playmark sync [--full] [--dry-run] [--yes] [--quiet]

An import from every backend, then an export to every backend whose export is
on. Start with --dry-run to see what it would change.

Example:
  playmark sync --dry-run
`,
	"held": `Usage: playmark held
       playmark held apply|discard NAME

Lists the exports the mass-change guard holds; apply sends a held export,
discard drops it.

Example:
  playmark held apply basement
`,
	"unmatched": `Usage: playmark unmatched [--limit N] [--json]

Lists the items that have no external id (IMDb, TMDB, TVDB...) to match on.

Example:
  playmark unmatched --limit 20
`,
	"backup": `Usage: playmark backup [FILE]

Writes the play state as portable JSON lines (no tokens) to FILE, which must
not exist yet, or into the backups folder of the config dir.

Example:
  playmark backup ~/playmark-2026-11-27.jsonl
`,
	"restore": `Usage: playmark restore FILE --backend NAME [--dry-run] [--yes]

Makes one backend's marks match a backup. Start with --dry-run.

Example:
  playmark restore ~/playmark-2026-11-27.jsonl --backend basement --dry-run
`,
	"tasks": `Usage: playmark tasks [--json]

Shows the scheduled import and export: on or off, the cron expression and the
next three runs. Schedules run while the desktop app or playmark daemon runs.

Example:
  playmark tasks
`,
	"tasks set": `Usage: playmark tasks set import|export [--cron EXPR] [--on|--off]

Changes a schedule. EXPR is a five-field cron expression (minute hour day
month weekday), in local time.

Example:
  playmark tasks set import --cron '0 */6 * * *' --on
`,
	"status": `Usage: playmark status [--json]

Shows the items, the last import and export, the schedules and each backend's
health.

Example:
  playmark status
`,
	"history": `Usage: playmark history [--json] [--limit N] [--run ID]

Lists the latest runs with their per-backend figures (read/changed/skipped/
failed); --run ID lists the changes one run made.

Example:
  playmark history --run 12
`,
	"webhooks": `Usage: playmark webhooks [--listen ADDR | --off]

Shows the webhook listener and, for each backend, the URL to paste into its
server, so that changes arrive within seconds while the app or daemon runs.
--listen ADDR (host:port) sets where it listens from the next start.

Example:
  playmark webhooks --listen 0.0.0.0:8765
`,
	"daemon": `Usage: playmark daemon [--verbose]

Runs the schedules, the webhook listener and the live connections without a
window or tray, until stopped (Ctrl+C or SIGTERM). It prints one line per
event on standard output (started, each run's summary, each error, stopping),
for journald or docker logs; --verbose adds the log.

Example:
  playmark daemon
`,
	"simulate": `Usage: playmark simulate --type plex|jellyfin|emby [--listen ADDR] [--items N] [--token T] [--name NAME]

Runs a simulated media server until stopped, to try Playmark without one. It
prints the command to add it.

Example:
  playmark simulate --type jellyfin --items 200
`,
	"demo": `Usage: playmark demo [--items N] [--headless] [--keep]

Three simulated servers and the app, in a throwaway config dir. --headless
shows a preview and a sync on the terminal instead of the window.

Example:
  playmark demo --headless
`,
}

// helpTopic is the commandHelp key for a command line (without the
// global flags): "backend add", "tasks set", "sync"; "" when there is none.
func helpTopic(args []string) string {
	if len(args) == 0 {
		return ""
	}
	cmd := canonicalCommand(args[0])
	switch cmd {
	case "backend":
		if len(args) > 1 {
			sub := map[string]string{"ls": "list", "edit": "set", "rm": "remove", "delete": "remove"}[args[1]]
			if sub == "" {
				sub = args[1]
			}
			if _, ok := commandHelp["backend "+sub]; ok {
				return "backend " + sub
			}
		}
		return "backend"
	case "tasks":
		if len(args) > 1 && args[1] == "set" {
			return "tasks set"
		}
	case "people", "person":
		if len(args) > 1 && (args[1] == "remove" || args[1] == "rm") {
			return "people remove"
		}
		return "people"
	}
	if _, ok := commandHelp[cmd]; ok {
		return cmd
	}
	return ""
}

// canonicalCommand maps a command's other spellings to its name.
func canonicalCommand(cmd string) string {
	switch cmd {
	case "backends":
		return "backend"
	case "task":
		return "tasks"
	case "webhook":
		return "webhooks"
	}
	return cmd
}

// wantsHelp reports whether args ask for help: -h, -help or --help
// before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// printHelp prints the help of topic: a command, "backend" (its
// subcommands), or "" (the overview).
func printHelp(w io.Writer, topic string) {
	if topic == "backend" {
		var keys []string
		for k := range commandHelp {
			if strings.HasPrefix(k, "backend ") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprint(w, commandHelp[k])
		}
		return
	}
	if text, ok := commandHelp[topic]; ok {
		fmt.Fprint(w, text)
		return
	}
	fmt.Fprint(w, usageText)
}
