package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"playmark/sync/accounts"
	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
	"playmark/sync/state"
)

// demoPeople is the demo's household; the first is the plex.tv account's
// owner and the Jellyfin and Emby admin's sign-in adds all three.
var demoPeople = []string{"Sam", "Anna", "Ben"}

// demoHousehold is the demo's simulated plex.tv and servers.
type demoHousehold struct {
	tv   *simulate.PlexTV
	plex *simulate.PlexServer
	mb   []*simulate.MediaBrowserServer // Jellyfin, Emby
}

func (h *demoHousehold) close() {
	for _, s := range h.mb {
		s.Close()
	}
	if h.plex != nil {
		h.plex.Close()
	}
	if h.tv != nil {
		h.tv.Close()
	}
}

// setWatch sets person's play state of media k on server i (0 Plex, 1
// Jellyfin, 2 Emby), as if they did it in that server's app.
func (h *demoHousehold) setWatch(person string, i int, k string, w simulate.Watch) {
	if i == 0 {
		if person == demoPeople[0] {
			h.plex.SetWatch(k, w)
		} else if id, ok := h.tv.ServerAccount(h.plex, person); ok {
			h.plex.SetAccountWatch(id, k, w)
		}
		return
	}
	s := h.mb[i-1]
	s.SetWatchOf(s.UserByName(person), k, w)
}

// startDemoHousehold starts the simulated plex.tv and servers, gives each
// person their own watch states on each server, and signs in the way a
// user would: Plex through plex.tv (its PIN approved by itself), Jellyfin
// and Emby as their admin; then one backend per person and server, linked
// to the people by name, with export on.
func startDemoHousehold(ctx context.Context, core *Core, cat *simulate.Catalog, now time.Time, out io.Writer) (*demoHousehold, error) {
	st := core.Store
	h := &demoHousehold{}
	fail := func(err error) (*demoHousehold, error) {
		h.close()
		return nil, err
	}
	var err error
	if h.tv, err = simulate.NewPlexTV(simulate.PlexTVOptions{Owner: demoPeople[0], AutoApprove: 300 * time.Millisecond}); err != nil {
		return fail(err)
	}
	// The app (token renewal included) talks to the simulated plex.tv.
	os.Setenv("PLAYMARK_PLEXTV_URL", h.tv.URL())
	for _, p := range demoPeople[1:] {
		if _, err := h.tv.AddHomeUser(p, "", true); err != nil {
			return fail(err)
		}
	}
	if h.plex, err = simulate.NewPlex(cat, simulate.Options{Name: "Living room Plex"}); err != nil {
		return fail(err)
	}
	if err := h.tv.AddServer(h.plex); err != nil {
		return fail(err)
	}
	for _, k := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		name := map[backend.Kind]string{backend.Jellyfin: "Basement Jellyfin", backend.Emby: "Cabin Emby"}[k]
		srv, err := simulate.New(k, cat, simulate.Options{Name: name})
		if err != nil {
			return fail(err)
		}
		s := srv.(*simulate.MediaBrowserServer)
		h.mb = append(h.mb, s)
		s.SetPassword("admin", "demo")
		for _, p := range demoPeople {
			s.AddUser(p, "", false)
		}
	}
	for pi, p := range demoPeople {
		for i := 0; i < 3; i++ {
			for k, w := range simulate.GenerateWatches(cat, uint64(100+10*pi+i), now.Add(-time.Duration(i+1)*time.Hour)) {
				h.setWatch(p, i, k, w)
			}
		}
	}

	id, err := core.Engine.ClientID(ctx)
	if err != nil {
		return fail(err)
	}
	m := &accounts.Manager{Store: st, ClientID: id, PlexTVURL: h.tv.URL(), PollInterval: 100 * time.Millisecond}
	a, err := m.SignInPlex(ctx, func(link, code string) {
		fmt.Fprintf(out, "  signing in to the simulated plex.tv with code %s\n", code)
	})
	if err != nil {
		return fail(err)
	}
	servers, err := m.Servers(ctx, a)
	if err != nil {
		return fail(err)
	}
	plexServer, err := accounts.FindServer(servers, h.plex.ServerID())
	if err != nil {
		return fail(err)
	}
	var all []state.Backend
	bs, err := m.AddHousehold(ctx, a, plexServer, accounts.DefaultSelection(plexServer.Users), nil)
	if err != nil {
		return fail(err)
	}
	all = append(all, bs...)
	for i, s := range h.mb {
		kind := []backend.Kind{backend.Jellyfin, backend.Emby}[i]
		ma, err := m.SignInPassword(ctx, kind, s.URL(), "admin", "demo")
		if err != nil {
			return fail(err)
		}
		ss, err := m.Servers(ctx, ma)
		if err != nil || len(ss) != 1 {
			return fail(fmt.Errorf("the simulated %s: %v", kind, err))
		}
		var pick []accounts.User
		for _, p := range demoPeople {
			u, err := accounts.FindUser(ss[0], p)
			if err != nil {
				return fail(err)
			}
			pick = append(pick, u)
		}
		bs, err := m.AddHousehold(ctx, ma, ss[0], pick, nil)
		if err != nil {
			return fail(err)
		}
		all = append(all, bs...)
	}
	for _, b := range all {
		b.Export = true
		if err := st.UpdateBackend(ctx, b); err != nil {
			return fail(err)
		}
		fmt.Fprintf(out, "  %-28s %-6s %s at %s\n", b.Name, b.Person, b.Kind, b.URL)
	}
	fmt.Fprintf(out, "  %d people, %d backends, %d items on each server\n", len(demoPeople), len(all), len(cat.Media))
	return h, nil
}
