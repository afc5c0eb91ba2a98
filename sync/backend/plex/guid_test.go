package plex

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"playmark/sync/backend"
)

func TestParseGUID(t *testing.T) {
	g := func(kind, value string) backend.GUID { return backend.GUID{Kind: kind, Value: value} }
	cases := []struct {
		in   string
		want Ref
		ok   bool
	}{
		// New agents: the Guid[] array.
		{"imdb://tt0096895", Ref{GUID: g("imdb", "tt0096895")}, true},
		{"tmdb://268", Ref{GUID: g("tmdb", "268")}, true},
		{"tvdb://1204", Ref{GUID: g("tvdb", "1204")}, true},
		{"tvmaze://82", Ref{GUID: g("tvmaze", "82")}, true},
		{"tvrage://24493", Ref{GUID: g("tvrage", "24493")}, true},
		{"anidb://69", Ref{GUID: g("anidb", "69")}, true},
		{"IMDB://TT0096895", Ref{GUID: g("imdb", "tt0096895")}, true},
		{"  tmdb://268  ", Ref{GUID: g("tmdb", "268")}, true},
		{"tmdb://00268", Ref{GUID: g("tmdb", "268")}, true},
		{"imdb://tt0000001", Ref{GUID: g("imdb", "tt0000001")}, true}, // imdb keeps its zeros
		{"imdb://tt113277", Ref{GUID: g("imdb", "tt0113277")}, true},  // short ids padded, as Jellyfin/Emby ProviderIds are

		// Legacy agents.
		{"com.plexapp.agents.imdb://tt1254207?lang=en", Ref{GUID: g("imdb", "tt1254207")}, true},
		{"com.plexapp.agents.imdb://tt1254207", Ref{GUID: g("imdb", "tt1254207")}, true},
		{"com.plexapp.agents.themoviedb://268?lang=en", Ref{GUID: g("tmdb", "268")}, true},
		{"com.plexapp.agents.tmdb://268?lang=de", Ref{GUID: g("tmdb", "268")}, true},
		{"com.plexapp.agents.thetvdb://268592?lang=en", Ref{GUID: g("tvdb", "268592")}, true},
		{"com.plexapp.agents.thetvdb://268592/1?lang=en", Ref{GUID: g("tvdb", "268592"), Show: true, Season: 1}, true},
		{"com.plexapp.agents.thetvdb://268592/1/1?lang=en", Ref{GUID: g("tvdb", "268592"), Show: true, Season: 1, Episode: 1}, true},
		{"com.plexapp.agents.thetvdb://268592/0/3?lang=en", Ref{GUID: g("tvdb", "268592"), Show: true, Season: 0, Episode: 3}, true},
		{"com.plexapp.agents.themoviedb://1399/2/5?lang=en", Ref{GUID: g("tmdb", "1399"), Show: true, Season: 2, Episode: 5}, true},
		{"com.plexapp.agents.tvmaze://82/1/1", Ref{GUID: g("tvmaze", "82"), Show: true, Season: 1, Episode: 1}, true},
		{"COM.PLEXAPP.AGENTS.IMDB://tt1254207?lang=en", Ref{GUID: g("imdb", "tt1254207")}, true},
		{"com.plexapp.agents.imdb://tt1254207#frag", Ref{GUID: g("imdb", "tt1254207")}, true},
		{"com.plexapp.agents.thetvdb://268592/?lang=en", Ref{GUID: g("tvdb", "268592")}, true},

		// The NFO importers.
		{"com.plexapp.agents.xbmcnfo://tt0111161?lang=xn", Ref{GUID: g("imdb", "tt0111161")}, true},
		{"com.plexapp.agents.xbmcnfo://278?lang=xn", Ref{GUID: g("tmdb", "278")}, true},
		{"com.plexapp.agents.xbmcnfotv://81189/1/1?lang=xn", Ref{GUID: g("tvdb", "81189"), Show: true, Season: 1, Episode: 1}, true},
		{"com.plexapp.agents.xbmcnfotv://81189?lang=xn", Ref{GUID: g("tvdb", "81189")}, true},

		// HAMA.
		{"com.plexapp.agents.hama://anidb-123?lang=en", Ref{GUID: g("anidb", "123")}, true},
		{"com.plexapp.agents.hama://anidb-123/1/5?lang=en", Ref{GUID: g("anidb", "123"), Show: true, Season: 1, Episode: 5}, true},
		{"com.plexapp.agents.hama://anidb3-123", Ref{GUID: g("anidb", "123")}, true},
		{"com.plexapp.agents.hama://tvdb-456?lang=en", Ref{GUID: g("tvdb", "456")}, true},
		{"com.plexapp.agents.hama://tvdb2-456", Ref{GUID: g("tvdb", "456")}, true},
		{"com.plexapp.agents.hama://tvdb4-456/1/12", Ref{GUID: g("tvdb", "456"), Show: true, Season: 1, Episode: 12}, true},
		{"com.plexapp.agents.hama://tmdb-789", Ref{GUID: g("tmdb", "789")}, true},
		{"com.plexapp.agents.hama://tsdb-789", Ref{GUID: g("tmdb", "789")}, true},
		{"com.plexapp.agents.hama://imdb-tt0111161", Ref{GUID: g("imdb", "tt0111161")}, true},
		{"com.plexapp.agents.hama://youtube-abc", Ref{}, false},
		{"com.plexapp.agents.hama://anidb", Ref{}, false},
		{"com.plexapp.agents.hama://anidb-", Ref{}, false},

		// Ids that are not external ids.
		{"plex://movie/5d7768257228e5001f1dccd2", Ref{}, false},
		{"plex://episode/5000000000000000000000005", Ref{}, false},
		{"local://1234", Ref{}, false},
		{"com.plexapp.agents.none://8a730d03-e7a5-4067-b3df-495aba75c5ce", Ref{}, false},
		{"com.plexapp.agents.none://123", Ref{}, false},
		{"com.plexapp.agents.localmedia://123", Ref{}, false},
		{"collection://4f195cc1-8a08-4ee0-bc22-1946f2d6293f", Ref{}, false},
		{"iva://api.internetvideoarchive.com/2.0/DataService/VideoAssets(198)", Ref{}, false},
		{"com.plexapp.agents.youtube://dQw4w9WgXcQ", Ref{}, false},

		// Malformed.
		{"", Ref{}, false},
		{"imdb", Ref{}, false},
		{"imdb:/tt123", Ref{}, false},
		{"imdb://", Ref{}, false},
		{"imdb://123", Ref{}, false},
		{"imdb://tt", Ref{}, false},
		{"imdb://tt12a", Ref{}, false},
		{"tmdb://abc", Ref{}, false},
		{"tmdb://-5", Ref{}, false},
		{"tmdb://0", Ref{}, false},
		{"tmdb://000", Ref{}, false},
		{"tmdb://12 34", Ref{}, false},
		{"tvdb://1/2/3/4", Ref{}, false},
		{"com.plexapp.agents.thetvdb://268592/x/1", Ref{}, false},
		{"com.plexapp.agents.thetvdb://268592/1/-1", Ref{}, false},
		{"com.plexapp.agents.thetvdb://268592//1", Ref{}, false},
		{"com.plexapp.agents.thetvdb://268592/1/99999999", Ref{}, false},
		{"://268", Ref{}, false},
		{"tmdb://" + strings.Repeat("1", 600), Ref{}, false},
	}
	for _, c := range cases {
		got, ok := ParseGUID(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseGUID(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseItemGUIDs(t *testing.T) {
	g := func(kind, value string) backend.GUID { return backend.GUID{Kind: kind, Value: value} }
	cases := []struct {
		name        string
		guid        string
		ids         []string
		grandparent string
		want        ItemGUIDs
	}{
		{
			name: "new agent movie",
			guid: "plex://movie/5d7768257228e5001f1dccd2",
			ids:  []string{"imdb://tt0096895", "tmdb://268", "tvdb://1204"},
			want: ItemGUIDs{GUIDs: []backend.GUID{g("imdb", "tt0096895"), g("tmdb", "268"), g("tvdb", "1204")}},
		},
		{
			name: "legacy movie",
			guid: "com.plexapp.agents.imdb://tt1254207?lang=en",
			want: ItemGUIDs{GUIDs: []backend.GUID{g("imdb", "tt1254207")}},
		},
		{
			name: "duplicates dropped",
			guid: "com.plexapp.agents.imdb://tt1254207?lang=en",
			ids:  []string{"imdb://tt1254207", "imdb://TT1254207", "tmdb://10378", "tmdb://010378"},
			want: ItemGUIDs{GUIDs: []backend.GUID{g("imdb", "tt1254207"), g("tmdb", "10378")}},
		},
		{
			name:        "legacy episode",
			guid:        "com.plexapp.agents.thetvdb://268592/1/2?lang=en",
			grandparent: "com.plexapp.agents.thetvdb://268592?lang=en",
			want:        ItemGUIDs{ShowGUIDs: []backend.GUID{g("tvdb", "268592")}, Season: 1, Episode: 2, HasNumbers: true},
		},
		{
			name:        "new agent episode",
			guid:        "plex://episode/5000000000000000000000005",
			ids:         []string{"imdb://tt0000004", "tmdb://4", "tvdb://4"},
			grandparent: "plex://show/300000000000000000000003",
			want:        ItemGUIDs{GUIDs: []backend.GUID{g("imdb", "tt0000004"), g("tmdb", "4"), g("tvdb", "4")}},
		},
		{
			name: "nothing usable",
			guid: "local://55",
			ids:  []string{"plex://movie/1", "garbage"},
			want: ItemGUIDs{},
		},
	}
	for _, c := range cases {
		got := ParseItemGUIDs(c.guid, c.ids, c.grandparent)
		if !slices.Equal(got.GUIDs, c.want.GUIDs) || !slices.Equal(got.ShowGUIDs, c.want.ShowGUIDs) ||
			got.Season != c.want.Season || got.Episode != c.want.Episode || got.HasNumbers != c.want.HasNumbers {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

var knownKinds = []string{"imdb", "tmdb", "tvdb", "tvmaze", "tvrage", "anidb"}

// FuzzParseGUID: any input, no panic; every accepted GUID is normalised
// and parses back to itself.
func FuzzParseGUID(f *testing.F) {
	for _, s := range []string{
		"imdb://tt0096895", "tmdb://268", "tvdb://1204",
		"com.plexapp.agents.imdb://tt1254207?lang=en",
		"com.plexapp.agents.thetvdb://268592/1/1?lang=en",
		"com.plexapp.agents.themoviedb://268?lang=en",
		"com.plexapp.agents.xbmcnfo://tt0111161?lang=xn",
		"com.plexapp.agents.hama://anidb-123/1/5?lang=en",
		"com.plexapp.agents.hama://tvdb2-456",
		"plex://movie/5d7768257228e5001f1dccd2", "local://1", "com.plexapp.agents.none://x",
		"", "://", "a://b/c/d/e", "tmdb://0", "imdb://tt", "hama://-", "\x00://\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, ok := ParseGUID(s)
		if !ok {
			if ref != (Ref{}) {
				t.Fatalf("ParseGUID(%q) rejected but returned %+v", s, ref)
			}
			return
		}
		g := ref.GUID
		if !slices.Contains(knownKinds, g.Kind) {
			t.Fatalf("ParseGUID(%q): kind %q", s, g.Kind)
		}
		if g.Value == "" || !utf8.ValidString(g.Value) || strings.ContainsAny(g.Value, "/?#: \t\n") {
			t.Fatalf("ParseGUID(%q): value %q", s, g.Value)
		}
		if g.Kind == "imdb" && !strings.HasPrefix(g.Value, "tt") {
			t.Fatalf("ParseGUID(%q): imdb value %q", s, g.Value)
		}
		if g.Kind != "imdb" && (g.Value[0] == '0' || strings.Trim(g.Value, "0123456789") != "") {
			t.Fatalf("ParseGUID(%q): numeric value %q", s, g.Value)
		}
		if !ref.Show && (ref.Season != 0 || ref.Episode != 0) {
			t.Fatalf("ParseGUID(%q): numbers without Show: %+v", s, ref)
		}
		back, ok := ParseGUID(g.String())
		if !ok || back.GUID != g || back.Show {
			t.Fatalf("ParseGUID(%q) = %v, which parses back as %+v, %v", s, g, back, ok)
		}
	})
}
