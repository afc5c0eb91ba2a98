package app

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"playmark/sync/backend/simulate"
	"playmark/sync/engine"
	"playmark/sync/state"
)

// demoCmd shows Playmark working without any media server: a household
// of three people (Sam, Anna, Ben) on three simulated servers (Plex,
// Jellyfin, Emby) in this process with the same library and each
// person's own watch states, signed in through a simulated plex.tv (Plex)
// and an admin's sign-in (Jellyfin, Emby), in a throwaway config dir: the
// nine backends with export on, a first import, and then the desktop app
// (or, with --headless, a preview and a sync on the terminal). Nothing
// touches the user's real profile.
func (c *cli) demoCmd(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	items := fs.Int("items", 400, "")
	headless := fs.Bool("headless", false, "")
	keep := fs.Bool("keep", false, "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *items < 10 || *items > 200000 {
		return usagef("demo: --items must be between 10 and 200000")
	}
	dir, err := os.MkdirTemp("", "playmark-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	// Fyne keeps its own preferences under XDG_CONFIG_HOME: keep them in
	// the throwaway dir too.
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	// The demo's throwaway tokens must not land in the user's keyring.
	os.Setenv("PLAYMARK_KEYRING", "off")
	ctx, cancel := signalContext()
	defer cancel()

	cat := simulate.Generate(simulate.GenerateOptions{Items: *items, Seed: 2026})
	now := time.Now().UTC()
	core, err := openCore(ctx, dir, coreOptions{Stderr: c.stderr})
	if err != nil {
		return err
	}
	st := core.Store
	fmt.Fprintf(c.stdout, "Playmark demo: a throwaway config dir at %s\n", dir)
	h, err := startDemoHousehold(ctx, core, cat, now, c.stdout)
	if err != nil {
		core.Close()
		return err
	}
	defer h.close()
	// Schedules every few minutes, so that the tray shows them working.
	_ = st.SetTask(ctx, state.Task{Name: "import", Cron: "*/2 * * * *", Enabled: true})
	_ = st.SetTask(ctx, state.Task{Name: "export", Cron: "1-59/2 * * * *", Enabled: true})
	rep, err := core.Engine.Import(ctx, engine.RunOptions{Trigger: "demo"})
	if err != nil {
		core.Close()
		return err
	}
	printReport(c.stdout, rep)
	core.Close()

	// A household that keeps watching: now and then someone marks
	// something on one of their servers.
	go func() {
		r := rand.New(rand.NewPCG(uint64(now.Unix()), 7))
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(45 * time.Second):
			}
			m := cat.Media[r.IntN(len(cat.Media))]
			h.setWatch(demoPeople[r.IntN(len(demoPeople))], r.IntN(3), m.Key, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: time.Now().UTC()})
		}
	}()

	if *headless || headlessBuild { // the headless build has no window to open
		c.configDir = dir
		fmt.Fprintln(c.stdout, "\nPreview of a sync (nothing written):")
		if err := c.runCmd("sync", []string{"--dry-run", "--quiet"}); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "\nThe sync itself:")
		if err := c.runCmd("sync", []string{"--quiet", "--yes"}); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "\nA second sync finds nothing left to do:")
		return c.runCmd("sync", []string{"--quiet"})
	}
	fmt.Fprintln(c.stdout, "\nOpening Playmark. Try Preview, then Sync now, from the tray or the window; quit to end the demo.")
	if code := runDesktop(dir, false, c.stderr); code != exitOK {
		return failedError{"the desktop app ended with an error"}
	}
	return nil
}
