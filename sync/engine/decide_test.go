package engine

import (
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/state"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(30 * 24 * time.Hour)
	added := t0.Add(-100 * 24 * time.Hour)
	ctx := decideContext{backend: "jf", now: now, lastImport: t0.Add(24 * time.Hour), progressMin: time.Minute}
	unwatched := state.Item{Updated: added}
	watched := state.Item{Watched: true, Explicit: true, Updated: t0, Via: "plex"}
	type want struct {
		changed  bool
		watched  bool
		updated  time.Time
		progress time.Duration
		conflict bool
	}
	cases := []struct {
		name  string
		local state.Item
		prev  *state.Remote
		it    backend.Item
		ctx   decideContext
		want  want
	}{
		{"played remotely, never watched locally",
			unwatched, nil, backend.Item{Played: true, LastPlayed: t0.Add(time.Hour), Added: added},
			ctx, want{changed: true, watched: true, updated: t0.Add(time.Hour)}},
		{"played before it was added elsewhere still counts",
			state.Item{Updated: t0.Add(50 * 24 * time.Hour)}, nil, backend.Item{Played: true, LastPlayed: t0, Added: added},
			ctx, want{changed: true, watched: true, updated: t0}},
		{"played remotely, older than a local un-watch",
			state.Item{Explicit: true, Updated: t0.Add(time.Hour), Via: "emby"}, nil, backend.Item{Played: true, LastPlayed: t0},
			ctx, want{updated: t0.Add(time.Hour)}},
		{"a tie keeps local",
			state.Item{Explicit: true, Updated: t0, Via: "emby"}, nil, backend.Item{Played: true, LastPlayed: t0},
			ctx, want{updated: t0}},
		{"strictly newer play wins over an un-watch",
			state.Item{Explicit: true, Updated: t0, Via: "emby"}, nil, backend.Item{Played: true, LastPlayed: t0.Add(time.Second)},
			ctx, want{changed: true, watched: true, updated: t0.Add(time.Second)}},
		{"un-watch by the user: same id, same added date",
			watched, &state.Remote{Watched: true, PlayedAt: t0, AddedAt: added}, backend.Item{Played: false, Added: added},
			ctx, want{changed: true, watched: false, updated: now}},
		{"replaced file: new added date keeps watched",
			watched, &state.Remote{Watched: true, PlayedAt: t0, AddedAt: added}, backend.Item{Played: false, Added: added.Add(time.Hour)},
			ctx, want{watched: true, updated: t0, conflict: true}},
		{"unplayed on a backend that never had it played: nothing to take",
			watched, &state.Remote{Watched: false, AddedAt: added}, backend.Item{Played: false, Added: added},
			ctx, want{watched: true, updated: t0}},
		{"unplayed on a backend seen for the first time: nothing to take",
			watched, nil, backend.Item{Played: false, Added: added},
			ctx, want{watched: true, updated: t0}},
		{"un-watch older than a play that came in since the last read",
			state.Item{Watched: true, Explicit: true, Updated: t0.Add(48 * time.Hour), Via: "plex"},
			&state.Remote{Watched: true, PlayedAt: t0, AddedAt: added}, backend.Item{Played: false, Added: added},
			ctx, want{watched: true, updated: t0.Add(48 * time.Hour), conflict: true}},
		{"a replay is not an un-watch (Jellyfin 10.x: unplayed, but counted and dated)",
			watched, &state.Remote{Watched: true, PlayCount: 1, PlayedAt: t0, AddedAt: added},
			backend.Item{Played: false, PlayCount: 2, LastPlayed: now, Added: added},
			ctx, want{watched: true, updated: t0, conflict: true}},
		{"a replay's position is progress with replay tracking",
			watched, &state.Remote{Watched: true, PlayCount: 1, PlayedAt: t0, AddedAt: added},
			backend.Item{Played: false, PlayCount: 2, LastPlayed: now, Progress: 30 * time.Minute, Added: added},
			decideContext{backend: "jf", now: now, lastImport: t0.Add(24 * time.Hour), progressMin: time.Minute, replay: true},
			want{changed: true, watched: true, updated: t0, progress: 30 * time.Minute, conflict: true}},
		{"a position that moved under the same session date is new",
			state.Item{Updated: added, Progress: 10 * time.Minute, ProgressAt: t0},
			&state.Remote{PlayCount: 1, PlayedAt: t0, Progress: 10 * time.Minute, AddedAt: added},
			backend.Item{PlayCount: 1, LastPlayed: t0, Progress: 70 * time.Minute, Added: added},
			ctx, want{changed: true, updated: added, progress: 70 * time.Minute}},
		{"remote unchanged since last seen says nothing",
			unwatched, &state.Remote{Watched: true, PlayedAt: t0}, backend.Item{Played: true, LastPlayed: t0},
			ctx, want{updated: added}},
		{"tainted event never flips watched",
			unwatched, nil, backend.Item{Played: true, LastPlayed: t0},
			decideContext{backend: "jf", now: now, progressMin: time.Minute, tainted: true}, want{updated: added}},
		{"progress above the minimum and newer is taken",
			unwatched, nil, backend.Item{Progress: 10 * time.Minute, LastPlayed: t0},
			ctx, want{changed: true, updated: added, progress: 10 * time.Minute}},
		{"progress below the minimum is ignored",
			unwatched, nil, backend.Item{Progress: 30 * time.Second, LastPlayed: t0},
			ctx, want{updated: added}},
		{"progress within a few seconds is not a change",
			state.Item{Updated: added, Progress: 10 * time.Minute, ProgressAt: t0}, nil, backend.Item{Progress: 10*time.Minute + 3*time.Second, LastPlayed: t0.Add(time.Hour)},
			ctx, want{updated: added, progress: 10 * time.Minute}},
		{"older progress loses",
			state.Item{Updated: added, Progress: 10 * time.Minute, ProgressAt: t0}, nil, backend.Item{Progress: 20 * time.Minute, LastPlayed: t0.Add(-time.Hour)},
			ctx, want{updated: added, progress: 10 * time.Minute}},
		{"progress on a watched item is ignored",
			watched, nil, backend.Item{Progress: 20 * time.Minute, LastPlayed: t0.Add(time.Hour)},
			ctx, want{watched: true, updated: t0}},
		{"progress on a watched item is kept with replay tracking",
			watched, nil, backend.Item{Progress: 20 * time.Minute, LastPlayed: t0.Add(time.Hour)},
			decideContext{backend: "jf", now: now, progressMin: time.Minute, replay: true}, want{changed: true, watched: true, updated: t0, progress: 20 * time.Minute}},
		{"a tainted event may move progress",
			unwatched, nil, backend.Item{Progress: 5 * time.Minute, LastPlayed: t0},
			decideContext{backend: "jf", now: now, progressMin: time.Minute, tainted: true}, want{changed: true, updated: added, progress: 5 * time.Minute}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := decide(c.local, c.prev, &c.it, c.ctx)
			got := want{changed: d.changed, watched: d.item.Watched, updated: d.item.Updated, progress: d.item.Progress, conflict: d.conflict != ""}
			if got != c.want {
				t.Errorf("decide = %+v (reason %q, conflict %q), want %+v", got, d.reason, d.conflict, c.want)
			}
			if d.changed && d.reason == "" {
				t.Error("a change without a reason")
			}
		})
	}
}

func TestPlan(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	added := t0.Add(-100 * 24 * time.Hour)
	kinds := func(ops []op) []opKind {
		var out []opKind
		for _, o := range ops {
			out = append(out, o.kind)
		}
		return out
	}
	cases := []struct {
		name  string
		local state.Item
		prev  *state.Remote
		it    backend.Item
		want  []opKind
	}{
		{"local watched, remote not", state.Item{Watched: true, Explicit: true, Updated: t0}, nil, backend.Item{Added: added}, []opKind{opPlayed}},
		{"remote un-watched since the last import: leave it to import",
			state.Item{Watched: true, Explicit: true, Updated: t0}, &state.Remote{Watched: true, AddedAt: added}, backend.Item{Added: added}, nil},
		{"local un-watched later than the remote play", state.Item{Explicit: true, Updated: t0.Add(time.Hour)}, nil, backend.Item{Played: true, LastPlayed: t0}, []opKind{opUnplayed}},
		{"remote play newer than the un-watch (beyond drift)", state.Item{Explicit: true, Updated: t0}, nil, backend.Item{Played: true, LastPlayed: t0.Add(time.Minute)}, nil},
		{"remote play within the drift allowance", state.Item{Explicit: true, Updated: t0}, nil, backend.Item{Played: true, LastPlayed: t0.Add(5 * time.Second)}, []opKind{opUnplayed}},
		{"never watched locally: never un-watch a remote", state.Item{Updated: added}, nil, backend.Item{Played: true, LastPlayed: t0}, nil},
		{"un-watch then position", state.Item{Explicit: true, Updated: t0.Add(time.Hour), Progress: 5 * time.Minute, ProgressAt: t0.Add(time.Hour)}, nil,
			backend.Item{Played: true, LastPlayed: t0}, []opKind{opUnplayed, opProgress}},
		{"position", state.Item{Updated: added, Progress: 5 * time.Minute, ProgressAt: t0}, nil, backend.Item{}, []opKind{opProgress}},
		{"position already there", state.Item{Updated: added, Progress: 5 * time.Minute, ProgressAt: t0}, nil, backend.Item{Progress: 5*time.Minute + time.Second}, nil},
		{"remote position newer", state.Item{Updated: added, Progress: 5 * time.Minute, ProgressAt: t0}, nil, backend.Item{Progress: 9 * time.Minute, LastPlayed: t0.Add(time.Hour)}, nil},
		{"both watched", state.Item{Watched: true, Explicit: true, Updated: t0}, nil, backend.Item{Played: true, LastPlayed: t0.Add(time.Hour)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.it.ID = "1"
			ops, _ := plan(c.local, c.prev, &c.it, time.Minute)
			got := kinds(ops)
			if len(got) != len(c.want) {
				t.Fatalf("plan = %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("plan = %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestHeld(t *testing.T) {
	set := state.DefaultSettings()
	cases := []struct {
		unwatches, watched int
		held               bool
	}{
		{0, 0, false},
		{1, 2, false},     // below the minimum count
		{5, 1000, false},  // 0.5 %
		{5, 40, true},     // 12.5 %
		{10, 100, false},  // exactly 10 % is allowed
		{11, 100, true},   // just over
		{101, 5000, true}, // over the absolute count
	}
	for _, c := range cases {
		if got := held(c.unwatches, c.watched, set); got != c.held {
			t.Errorf("held(%d of %d) = %v, want %v", c.unwatches, c.watched, got, c.held)
		}
	}
}

func TestPlanNeverWritesAPositionServersCountAsWatched(t *testing.T) {
	local := state.Item{Updated: time.Unix(0, 0), Progress: 43 * time.Minute, ProgressAt: time.Unix(100, 0)}
	ops, _ := plan(local, nil, &backend.Item{ID: "1", Duration: 45 * time.Minute}, time.Minute)
	if len(ops) != 0 {
		t.Errorf("plan wrote a position at 96 %% of the runtime: %v", ops)
	}
	ops, _ = plan(local, nil, &backend.Item{ID: "1", Duration: 2 * time.Hour}, time.Minute)
	if len(ops) != 1 || ops[0].kind != opProgress {
		t.Errorf("plan = %v, want the position written on a long film", ops)
	}
}
