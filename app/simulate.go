package app

import (
	"flag"
	"fmt"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

// simulateCmd runs a simulated server until interrupted, for trying
// Playmark without a media server.
func (c *cli) simulateCmd(args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	kind := fs.String("type", "", "")
	listen := fs.String("listen", "127.0.0.1:0", "")
	items := fs.Int("items", 500, "")
	token := fs.String("token", "", "")
	seed := fs.Uint64("seed", 1, "")
	watchSeed := fs.Uint64("watch-seed", 0, "")
	name := fs.String("name", "", "")
	version := fs.String("version", "", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	k, err := backend.ParseKind(*kind)
	if err != nil {
		return usageError{"simulate: " + err.Error()}
	}
	if *items < 0 || *items > 5_000_000 {
		return usagef("simulate: --items must be between 0 and 5000000")
	}
	srv, err := StartSimulator(k, SimOptions{Listen: *listen, Items: *items, Token: *token, Seed: *seed, WatchSeed: *watchSeed, Name: *name, Version: *version})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(c.stdout, "Simulated %s server with %d items at %s\n", k, *items, srv.URL())
	fmt.Fprintf(c.stdout, "  token:   %s\n  user id: %s\n  server:  %s\n", srv.Token(), srv.UserID(), srv.ServerID())
	user := ""
	if !k.TokenIsUser() {
		user = " --user " + srv.UserID()
	}
	fmt.Fprintf(c.stdout, "Add it:  playmark backend add sim-%s --type %s --url %s --token %s%s\n", k, k, srv.URL(), srv.Token(), user)
	fmt.Fprintln(c.stdout, "Press Ctrl+C to stop.")
	ctx, cancel := signalContext()
	defer cancel()
	<-ctx.Done()
	return nil
}

// SimOptions shape a simulated server started by StartSimulator.
type SimOptions = simulate.StartOptions

// StartSimulator starts a simulated server of kind k with a generated
// library and play state (simulate.Start).
func StartSimulator(k backend.Kind, o SimOptions) (simulate.Server, error) {
	return simulate.Start(k, o)
}
