package simulate_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

// TestPlaybackChangesUserDataAsTheServersDo: what a player's session does
// to the user's data, per server and version (API-NOTES section 7).
func TestPlaybackChangesUserDataAsTheServersDo(t *testing.T) {
	old := time.Date(2025, 1, 5, 20, 0, 0, 0, time.UTC)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		kind    backend.Kind
		version string
		unplays bool // a replay's start clears Played
	}{
		{backend.Jellyfin, "10.11.8", true},
		{backend.Jellyfin, "10.5.0", true},
		{backend.Jellyfin, "12.0.0", false},
		{backend.Emby, "4.8.11.0", false},
	} {
		t.Run(string(tc.kind)+" "+tc.version, func(t *testing.T) {
			srv, err := simulate.New(tc.kind, notifyCatalog(), simulate.Options{Version: tc.version, Now: clock,
				Watches: map[string]simulate.Watch{"heat": {Played: true, PlayCount: 1, LastPlayed: old}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			// A replay from the start.
			if err := simulate.Playback(srv, "heat", simulate.PlaybackStart, 0); err != nil {
				t.Fatal(err)
			}
			got := srv.Watch("heat")
			if got.Played == tc.unplays || got.PlayCount != 2 || !got.LastPlayed.Equal(now) {
				t.Fatalf("after the start: %+v, want played %v, count 2, last played now", got, !tc.unplays)
			}
			// Progress later never moves the date; past 90 % it is played.
			now = now.Add(time.Hour)
			if err := simulate.Playback(srv, "heat", simulate.PlaybackProgress, 20*time.Minute); err != nil {
				t.Fatal(err)
			}
			got = srv.Watch("heat")
			if got.Position != 20*time.Minute || !got.LastPlayed.Equal(now.Add(-time.Hour)) {
				t.Errorf("after progress: %+v, want resume at 20m, date of the start", got)
			}
			if err := simulate.Playback(srv, "heat", simulate.PlaybackStop, 115*time.Minute); err != nil {
				t.Fatal(err)
			}
			got = srv.Watch("heat")
			if !got.Played || got.Position != 0 || !got.LastPlayed.Equal(now.Add(-time.Hour)) {
				t.Errorf("after a stop past 90 %%: %+v, want played, no position, date of the start", got)
			}
			// The web app's un-mark erases count and date.
			if err := simulate.Mark(srv, "heat", false); err != nil {
				t.Fatal(err)
			}
			if got := srv.Watch("heat"); got != (simulate.Watch{}) {
				t.Errorf("after un-mark: %+v, want nothing", got)
			}
		})
	}
}

// TestMarkPlayedWithoutDateKeepsTheOldDate: Jellyfin's MarkPlayed without
// DatePlayed keeps an existing LastPlayedDate (jellyfin #8492).
func TestMarkPlayedWithoutDateKeepsTheOldDate(t *testing.T) {
	old := time.Date(2025, 1, 5, 20, 0, 0, 0, time.UTC)
	srv, err := simulate.NewJellyfin(notifyCatalog(), simulate.Options{
		Watches: map[string]simulate.Watch{"heat": {Position: 30 * time.Minute, LastPlayed: old}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := simulate.Mark(srv, "heat", true); err != nil {
		t.Fatal(err)
	}
	if got := srv.Watch("heat"); !got.Played || !got.LastPlayed.Equal(old) {
		t.Errorf("after a web mark: %+v, want played on %v", got, old)
	}
}

// TestPlexUnwatchedFilter: unwatched=0 lists watched items only, and
// X-Plex-Container-Size: 0 answers the count alone.
func TestPlexUnwatchedFilter(t *testing.T) {
	srv, err := simulate.NewPlex(notifyCatalog(), simulate.Options{
		Watches: map[string]simulate.Watch{"heat": {Played: true, PlayCount: 1, LastPlayed: time.Now()}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := plexGet(t, srv, "/library/sections/1/all?type=1&unwatched=0")
	if c.TotalSize != 1 || len(c.Metadata) != 1 || c.Metadata[0].RatingKey != srv.RemoteID("heat") {
		t.Errorf("unwatched=0: %+v", c)
	}
	if err := simulate.Mark(srv, "heat", false); err != nil {
		t.Fatal(err)
	}
	if c := plexGet(t, srv, "/library/sections/1/all?type=1&unwatched=0"); c.TotalSize != 0 {
		t.Errorf("after unscrobble, unwatched=0 has %d", c.TotalSize)
	}
}

type plexWatchedListing struct {
	TotalSize int `json:"totalSize"`
	Metadata  []struct {
		RatingKey string `json:"ratingKey"`
	} `json:"Metadata"`
}

func plexGet(t *testing.T, srv simulate.Server, path string) plexWatchedListing {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+path, nil)
	req.Header.Set("X-Plex-Token", srv.Token())
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ MediaContainer plexWatchedListing }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.MediaContainer
}
