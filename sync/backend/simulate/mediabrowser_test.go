package simulate_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

// The tests speak raw HTTP to the simulated Jellyfin and Emby, so that they
// check the wire format the real servers have (API-NOTES §3-§6), not what a
// client makes of it.

var mbBase = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type mbFixture struct {
	t    *testing.T
	kind backend.Kind
	srv  *simulate.MediaBrowserServer
	cat  *simulate.Catalog
	now  time.Time
}

func mbStart(t *testing.T, kind backend.Kind, opt simulate.Options) *mbFixture {
	t.Helper()
	f := &mbFixture{t: t, kind: kind, cat: simulate.Generate(simulate.GenerateOptions{Items: 200, Seed: 3}), now: mbBase.Add(time.Hour)}
	if opt.Now == nil {
		opt.Now = func() time.Time { return f.now }
	}
	if opt.Watches == nil {
		opt.Watches = simulate.GenerateWatches(f.cat, 5, mbBase)
	}
	var err error
	if kind == backend.Jellyfin {
		f.srv, err = simulate.NewJellyfin(f.cat, opt)
	} else {
		f.srv, err = simulate.NewEmby(f.cat, opt)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Close)
	return f
}

// auth is the header a well-behaved client of this kind sends.
func (f *mbFixture) auth(token string) http.Header {
	h := http.Header{}
	if f.kind == backend.Jellyfin {
		h.Set("Authorization", `MediaBrowser Client="test", Device="d", DeviceId="1", Version="1", Token="`+token+`"`)
	} else {
		h.Set("X-Emby-Token", token)
	}
	return h
}

// do sends one request; path may carry a query.
func (f *mbFixture) do(method, path string, h http.Header, body string) (int, http.Header, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL()+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// get sends an authorised GET as the default user and decodes the JSON.
func (f *mbFixture) get(path string, out any) {
	f.t.Helper()
	st, _, b := f.do(http.MethodGet, path, f.auth(f.srv.Token()), "")
	if st != http.StatusOK {
		f.t.Fatalf("GET %s: %d %s", path, st, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
}

type mbPage struct {
	Items            []map[string]any
	TotalRecordCount int
	StartIndex       *int
}

func (f *mbFixture) items(query string) mbPage {
	f.t.Helper()
	var p mbPage
	f.get("/Users/"+f.srv.UserID()+"/Items?"+query, &p)
	return p
}

func (f *mbFixture) key(k string) string { return f.srv.RemoteID(k) }

func TestMediaBrowserJellyfinAuth(t *testing.T) {
	const tok = "tok en+/x" // needs URL-encoding in the header
	enc := url.QueryEscape(tok)
	cases := []struct {
		name     string
		header   map[string]string
		query    string
		modern   bool // accepted by 12.0 (LegacyAuth false)
		accepted bool // accepted by 10.11 (LegacyAuth true)
	}{
		{"MediaBrowser quoted", map[string]string{"Authorization": `MediaBrowser Client="c", Device="d", DeviceId="i", Version="1", Token="` + enc + `"`}, "", true, true},
		{"MediaBrowser unquoted any order", map[string]string{"Authorization": `MediaBrowser Token=` + enc + `, Client=c`}, "", true, true},
		{"MediaBrowser token only", map[string]string{"Authorization": `MediaBrowser Token="` + enc + `"`}, "", true, true},
		{"scheme case", map[string]string{"Authorization": `mediabrowser token="` + enc + `"`}, "", true, true},
		{"ApiKey query", nil, "?ApiKey=" + url.QueryEscape(tok), true, true},
		{"apikey lower case", nil, "?apikey=" + url.QueryEscape(tok), true, true},
		{"Emby scheme", map[string]string{"Authorization": `Emby Token="` + enc + `"`}, "", false, true},
		{"X-Emby-Authorization", map[string]string{"X-Emby-Authorization": `MediaBrowser Token="` + enc + `"`}, "", false, true},
		{"X-Emby-Token", map[string]string{"X-Emby-Token": tok}, "", false, true},
		{"X-MediaBrowser-Token", map[string]string{"X-MediaBrowser-Token": tok}, "", false, true},
		{"api_key", nil, "?api_key=" + url.QueryEscape(tok), false, true},
		{"wrong token", map[string]string{"Authorization": `MediaBrowser Token="nope"`}, "", false, false},
		{"no token", map[string]string{"Authorization": `MediaBrowser Client="c"`}, "", false, false},
		{"nothing", nil, "", false, false},
	}
	for _, legacy := range []bool{false, true} {
		f := mbStart(t, backend.Jellyfin, simulate.Options{Token: tok, LegacyAuth: legacy})
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/legacy=%v", tc.name, legacy), func(t *testing.T) {
				h := http.Header{}
				for k, v := range tc.header {
					h.Set(k, v)
				}
				st, _, body := f.do(http.MethodGet, "/System/Info"+tc.query, h, "")
				want := tc.modern || (legacy && tc.accepted)
				if want && st != http.StatusOK || !want && st != http.StatusUnauthorized {
					t.Fatalf("status %d, want accepted=%v", st, want)
				}
				if st == http.StatusUnauthorized && len(body) != 0 {
					t.Errorf("Jellyfin 401 body %q, want empty", body)
				}
			})
		}
		if st, _, _ := f.do(http.MethodGet, "/System/Info/Public", nil, ""); st != http.StatusOK {
			t.Errorf("/System/Info/Public without a token: %d, want 200", st)
		}
		if st, _, _ := f.do(http.MethodGet, "/emby/System/Info/Public", nil, ""); st != http.StatusNotFound {
			t.Errorf("Jellyfin /emby prefix: %d, want 404", st)
		}
	}
}

func TestMediaBrowserEmbyAuth(t *testing.T) {
	f := mbStart(t, backend.Emby, simulate.Options{})
	tok := f.srv.Token()
	cases := []struct {
		name   string
		header map[string]string
		path   string
		ok     bool
	}{
		{"X-Emby-Token", map[string]string{"X-Emby-Token": tok}, "/System/Info", true},
		{"api_key", nil, "/System/Info?api_key=" + tok, true},
		{"Authorization Emby", map[string]string{"Authorization": `Emby UserId="x", Client="c", Device="d", DeviceId="i", Version="1", Token="` + tok + `"`}, "/System/Info", true},
		{"X-Emby-Authorization", map[string]string{"X-Emby-Authorization": `Emby Token=` + tok}, "/System/Info", true},
		{"emby prefix", map[string]string{"X-Emby-Token": tok}, "/emby/System/Info", true},
		{"EMBY prefix", map[string]string{"X-Emby-Token": tok}, "/EMBY/system/info", true},
		{"identity without token", map[string]string{"X-Emby-Authorization": `Emby Client="c"`}, "/System/Info", false},
		{"wrong token", map[string]string{"X-Emby-Token": "nope"}, "/System/Info", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			st, hdr, body := f.do(http.MethodGet, tc.path, h, "")
			if tc.ok && st != http.StatusOK || !tc.ok && st != http.StatusUnauthorized {
				t.Fatalf("status %d, want ok=%v", st, tc.ok)
			}
			if !tc.ok && (string(body) != "Access token is invalid or expired." || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain")) {
				t.Errorf("Emby 401: %q (%s)", body, hdr.Get("Content-Type"))
			}
		})
	}
	var info map[string]any
	f.get("/emby/System/Info/Public", &info)
	if _, has := info["ProductName"]; has || info["Version"] != "4.8.11.0" || info["Id"] != f.srv.ServerID() {
		t.Errorf("Emby public info %v", info)
	}
}

func TestMediaBrowserUsers(t *testing.T) {
	t.Run("jellyfin", func(t *testing.T) {
		f := mbStart(t, backend.Jellyfin, simulate.Options{})
		var users []map[string]any
		f.get("/Users", &users)
		if len(users) != 2 || users[0]["Id"] != f.srv.UserID() || users[0]["Policy"].(map[string]any)["IsAdministrator"] != true {
			t.Errorf("/Users = %v", users)
		}
		otherID, otherTok := f.srv.OtherUser()
		st, _, b := f.do(http.MethodGet, "/Users", f.auth(otherTok), "")
		if st != http.StatusOK || strings.Count(string(b), `"Id"`) != 1 || !strings.Contains(string(b), otherID) {
			t.Errorf("/Users as a non-admin: %d %s, want only itself", st, b)
		}
		var me map[string]any
		f.get("/Users/Me", &me)
		if me["Id"] != f.srv.UserID() || me["Name"] == "" {
			t.Errorf("/Users/Me = %v", me)
		}
		st, hdr, b := f.do(http.MethodGet, "/Users/Me", f.auth(f.srv.APIKey()), "")
		if st != http.StatusBadRequest || !strings.Contains(hdr.Get("Content-Type"), "problem+json") || !strings.Contains(string(b), `"status":400`) {
			t.Errorf("/Users/Me with an API key: %d %s %s, want 400 ProblemDetails", st, hdr.Get("Content-Type"), b)
		}
		// Dashed and upper-case GUIDs name the same user.
		id := f.srv.UserID()
		dashed := strings.ToUpper(id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:])
		var u map[string]any
		f.get("/users/"+dashed, &u)
		if u["Id"] != id {
			t.Errorf("/Users/{dashed} = %v", u)
		}
		if st, _, _ := f.do(http.MethodGet, "/Users/Query", f.auth(f.srv.Token()), ""); st == http.StatusOK {
			t.Error("Jellyfin answers /Users/Query")
		}
		if st, _, _ := f.do(http.MethodGet, "/Users/"+id, f.auth(otherTok), ""); st != http.StatusForbidden {
			t.Errorf("a non-admin reading another user: %d, want 403", st)
		}
	})
	t.Run("emby", func(t *testing.T) {
		f := mbStart(t, backend.Emby, simulate.Options{})
		var q struct {
			Items            []map[string]any
			TotalRecordCount int
		}
		f.get("/Users/Query", &q)
		if q.TotalRecordCount != 2 || len(q.Items) != 2 {
			t.Errorf("/Users/Query = %+v", q)
		}
		var users []map[string]any
		f.get("/Users", &users)
		if len(users) != 2 {
			t.Errorf("legacy /Users = %v", users)
		}
		if st, _, _ := f.do(http.MethodGet, "/Users/Me", f.auth(f.srv.Token()), ""); st != http.StatusNotFound {
			t.Errorf("Emby /Users/Me: %d, want 404", st)
		}
	})
}

func TestMediaBrowserItemShapes(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			f := mbStart(t, kind, simulate.Options{})
			var views mbPage
			f.get("/Users/"+f.srv.UserID()+"/Views", &views)
			var collections []string
			for _, v := range views.Items {
				collections = append(collections, v["CollectionType"].(string))
			}
			if !slices.Equal(collections, []string{"movies", "tvshows", "music"}) {
				t.Errorf("views %v", collections)
			}

			bare := f.items("Recursive=true&IncludeItemTypes=Movie,Episode&Limit=50")
			for _, it := range bare.Items {
				for _, k := range []string{"ProviderIds", "Path", "DateCreated"} {
					if _, has := it[k]; has {
						t.Fatalf("%s present without Fields: %v", k, it)
					}
				}
			}
			// Emby 4.8+ leaves the play date and the real count out of
			// listings unless Fields names them; Jellyfin always has them.
			var dated, counted int
			for _, it := range bare.Items {
				ud := it["UserData"].(map[string]any)
				if _, has := ud["LastPlayedDate"]; has {
					dated++
				}
				if ud["PlayCount"] != float64(0) {
					counted++
				}
			}
			if gated := kind == backend.Emby; gated != (dated == 0 && counted == 0) {
				t.Errorf("%s without the UserData fields: %d items dated, %d counted", kind, dated, counted)
			}
			if kind == backend.Jellyfin && (bare.StartIndex == nil || *bare.StartIndex != 0) {
				t.Errorf("Jellyfin QueryResult without StartIndex")
			}
			if kind == backend.Emby && bare.StartIndex != nil {
				t.Errorf("Emby QueryResult with StartIndex")
			}

			// Case-insensitive keys and paths.
			var p mbPage
			f.get("/users/"+f.srv.UserID()+"/items?recursive=TRUE&includeitemtypes=movie&fields=providerids,path,datecreated,UserDataLastPlayedDate,userdataplaycount&startindex=0&limit=500", &p)
			idPattern := regexp.MustCompile(`^[0-9]+$`)
			if kind == backend.Jellyfin {
				idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
			}
			datePattern := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)
			playedPattern := datePattern
			if kind == backend.Jellyfin {
				playedPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
			}
			var lastPlayed, unplayed int
			for _, it := range p.Items {
				if it["Type"] != "Movie" || !idPattern.MatchString(it["Id"].(string)) {
					t.Fatalf("item %v", it)
				}
				if _, ok := it["ProviderIds"].(map[string]any); !ok {
					t.Fatalf("no ProviderIds object with Fields=ProviderIds: %v", it)
				}
				if !datePattern.MatchString(it["DateCreated"].(string)) || it["Path"] == "" {
					t.Fatalf("DateCreated/Path: %v", it)
				}
				ud := it["UserData"].(map[string]any)
				if d, has := ud["LastPlayedDate"]; has {
					lastPlayed++
					if !playedPattern.MatchString(d.(string)) {
						t.Errorf("LastPlayedDate %q", d)
					}
				} else {
					unplayed++
				}
				if _, has := ud["PlayCount"]; !has {
					t.Errorf("UserData without PlayCount: %v", ud)
				}
			}
			if lastPlayed == 0 || unplayed == 0 {
				t.Errorf("want both played and never-played movies, got %d and %d", lastPlayed, unplayed)
			}
			if len(p.Items) != p.TotalRecordCount || p.TotalRecordCount != 40 {
				t.Errorf("movies: %d of %d, want 40", len(p.Items), p.TotalRecordCount)
			}

			// Series carry the show's ids; episodes point at series and season.
			ep := f.items("Ids=" + f.key("s1e1x2") + "&Fields=ProviderIds")
			if len(ep.Items) != 1 || ep.Items[0]["SeriesName"] != "Show 1" || ep.Items[0]["ParentIndexNumber"] != 1.0 || ep.Items[0]["IndexNumber"] != 2.0 || ep.Items[0]["SeasonId"] == nil {
				t.Fatalf("episode %v", ep.Items)
			}
			var series mbPage
			f.get("/Users/"+f.srv.UserID()+"/Items?Recursive=true&IncludeItemTypes=Series&Fields=ProviderIds&Ids="+ep.Items[0]["SeriesId"].(string), &series)
			if len(series.Items) != 1 || series.Items[0]["Name"] != "Show 1" || series.Items[0]["ProviderIds"].(map[string]any)["Tvdb"] != "70001" {
				t.Errorf("series %v", series.Items)
			}
			if n := f.items("Recursive=true&IncludeItemTypes=Series&Limit=0").TotalRecordCount; n == 0 {
				t.Error("no series listed")
			}
			children := f.items("ParentId=" + series.Items[0]["Id"].(string))
			for _, c := range children.Items {
				if c["Type"] != "Season" {
					t.Errorf("a non-recursive listing of a series has %v", c["Type"])
				}
			}
			under := f.items("ParentId=" + series.Items[0]["Id"].(string) + "&Recursive=true&IncludeItemTypes=Episode")
			if under.TotalRecordCount == 0 || under.TotalRecordCount >= 160 {
				t.Errorf("episodes under one series: %d", under.TotalRecordCount)
			}
		})
	}
}

// TestMediaBrowserPaging pages through every sort order a client uses and
// checks that each item comes exactly once and in order.
func TestMediaBrowserPaging(t *testing.T) {
	f := mbStart(t, backend.Jellyfin, simulate.Options{})
	all := f.items("Recursive=true&IncludeItemTypes=Movie,Episode")
	if all.TotalRecordCount != 200 || len(all.Items) != 200 {
		t.Fatalf("no Limit: %d of %d, want all 200", len(all.Items), all.TotalRecordCount)
	}
	for _, q := range []string{
		"SortBy=DateCreated,SortName&SortOrder=Ascending",
		"SortBy=DateCreated&SortOrder=Descending",
		"SortBy=SortName",
		"SortBy=DatePlayed,SortName&SortOrder=Descending&IsPlayed=true",
		"Filters=IsResumable",
	} {
		t.Run(q, func(t *testing.T) {
			var got []map[string]any
			total := -1
			for start := 0; ; start += 17 {
				p := f.items(fmt.Sprintf("Recursive=true&IncludeItemTypes=Movie,Episode&Fields=DateCreated&%s&StartIndex=%d&Limit=17", q, start))
				if total >= 0 && p.TotalRecordCount != total {
					t.Fatalf("total changed %d -> %d", total, p.TotalRecordCount)
				}
				total = p.TotalRecordCount
				got = append(got, p.Items...)
				if len(p.Items) < 17 {
					break
				}
			}
			if len(got) != total {
				t.Fatalf("paged %d of %d", len(got), total)
			}
			seen := map[any]bool{}
			for i, it := range got {
				if seen[it["Id"]] {
					t.Fatalf("%v twice", it["Id"])
				}
				seen[it["Id"]] = true
				if i == 0 {
					continue
				}
				prev := got[i-1]
				switch {
				case strings.Contains(q, "DateCreated,SortName&SortOrder=Ascending"):
					if prev["DateCreated"].(string) > it["DateCreated"].(string) {
						t.Fatalf("not ascending: %v then %v", prev["DateCreated"], it["DateCreated"])
					}
				case strings.Contains(q, "DateCreated&SortOrder=Descending"):
					if prev["DateCreated"].(string) < it["DateCreated"].(string) {
						t.Fatalf("not descending")
					}
				case strings.Contains(q, "DatePlayed"):
					a, b := prev["UserData"].(map[string]any), it["UserData"].(map[string]any)
					if a["Played"] != true || b["Played"] != true {
						t.Fatalf("IsPlayed=true listed an unplayed item")
					}
					if mbTime(t, a["LastPlayedDate"]).Before(mbTime(t, b["LastPlayedDate"])) {
						t.Fatalf("not by DatePlayed descending")
					}
				case strings.Contains(q, "IsResumable"):
					if it["UserData"].(map[string]any)["PlaybackPositionTicks"].(float64) <= 0 {
						t.Fatalf("IsResumable listed %v", it["UserData"])
					}
				}
			}
		})
	}
	past := f.items("Recursive=true&IncludeItemTypes=Movie&StartIndex=100000&Limit=10")
	if len(past.Items) != 0 || past.TotalRecordCount != 40 {
		t.Errorf("past the end: %d items, total %d", len(past.Items), past.TotalRecordCount)
	}
}

func mbTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("date %v: %v", v, err)
	}
	return tm
}

func TestMediaBrowserFilters(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			f := mbStart(t, kind, simulate.Options{})
			watches := simulate.GenerateWatches(f.cat, 5, mbBase)
			var played, resumable int
			for _, w := range watches {
				if w.Played {
					played++
				}
				if w.Position > 0 {
					resumable++
				}
			}
			count := func(q string) int {
				return f.items("Recursive=true&IncludeItemTypes=Movie,Episode&Limit=0&" + q).TotalRecordCount
			}
			if n := count("IsPlayed=true"); n != played {
				t.Errorf("IsPlayed=true: %d, want %d", n, played)
			}
			if n := count("Filters=IsPlayed"); n != played {
				t.Errorf("Filters=IsPlayed: %d, want %d", n, played)
			}
			if n := count("Filters=IsUnplayed"); n != 200-played {
				t.Errorf("Filters=IsUnplayed: %d, want %d", n, 200-played)
			}
			if n := count("Filters=IsResumable"); n != resumable {
				t.Errorf("Filters=IsResumable: %d, want %d", n, resumable)
			}
			if n := count("EnableTotalRecordCount=false"); n != 0 {
				t.Errorf("EnableTotalRecordCount=false with Limit=0: total %d", n)
			}

			// Ids, in the dashed form too on Jellyfin; unknown ids are absent.
			a, b := f.key("m1"), f.key("s1e1x1")
			if kind == backend.Jellyfin {
				b = strings.ToUpper(b[:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:])
			}
			unknown := "999999999"
			if kind == backend.Jellyfin {
				unknown = "0123456789abcdef0123456789abcdef"
			}
			p := f.items("Ids=" + a + "," + b + "," + unknown)
			if len(p.Items) != 2 || p.Items[0]["Id"] != a || p.Items[1]["Id"] != f.key("s1e1x1") {
				t.Errorf("Ids: %v", p.Items)
			}

			// AnyProviderIdEquals is Emby's; Jellyfin ignores it.
			m := f.cat.Media[5]
			if len(m.GUIDs) == 0 {
				t.Fatal("catalog item without ids")
			}
			n := count("AnyProviderIdEquals=" + url.QueryEscape(strings.ToUpper(m.GUIDs[0].Kind)+"."+m.GUIDs[0].Value))
			if kind == backend.Emby && n != 1 || kind == backend.Jellyfin && n != 200 {
				t.Errorf("AnyProviderIdEquals: %d items", n)
			}
		})
	}
}

func (f *mbFixture) userData(k string) map[string]any {
	f.t.Helper()
	var ud map[string]any
	f.get("/Users/"+f.srv.UserID()+"/Items/"+f.key(k)+"/UserData", &ud)
	return ud
}

// TestMediaBrowserMarkPlayed checks PlaystateController/BaseItem.MarkPlayed
// semantics (API-NOTES §3.5) on both servers.
func TestMediaBrowserMarkPlayed(t *testing.T) {
	at := time.Date(2024, 3, 1, 20, 15, 0, 0, time.UTC)
	earlier := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name  string
		start simulate.Watch
		date  bool
		want  simulate.Watch
	}{
		{"fresh with date", simulate.Watch{}, true, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: at}},
		{"fresh without date", simulate.Watch{}, false, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: mbBase.Add(time.Hour)}},
		{"played again with date", simulate.Watch{Played: true, PlayCount: 2, LastPlayed: earlier}, true, simulate.Watch{Played: true, PlayCount: 3, LastPlayed: at}},
		{"played again without date keeps date and count", simulate.Watch{Played: true, PlayCount: 2, LastPlayed: earlier}, false, simulate.Watch{Played: true, PlayCount: 2, LastPlayed: earlier}},
		{"resume position cleared", simulate.Watch{LastPlayed: earlier, Position: 5 * time.Minute}, false, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: earlier}},
	}
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		f := mbStart(t, kind, simulate.Options{Watches: map[string]simulate.Watch{}})
		for _, tc := range cases {
			t.Run(string(kind)+"/"+tc.name, func(t *testing.T) {
				k := f.cat.Media[7].Key
				f.srv.SetWatch(k, tc.start)
				path := "/Users/" + f.srv.UserID() + "/PlayedItems/" + f.key(k)
				if tc.date {
					path += "?DatePlayed=" + at.Format("20060102150405")
				}
				st, _, b := f.do(http.MethodPost, path, f.auth(f.srv.Token()), "")
				if st != http.StatusOK {
					t.Fatalf("POST PlayedItems: %d %s", st, b)
				}
				var dto map[string]any
				if err := json.Unmarshal(b, &dto); err != nil || dto["Played"] != true || dto["ItemId"] != f.key(k) {
					t.Errorf("answer %s, want a UserItemDataDto", b)
				}
				if got := f.srv.Watch(k); got != tc.want {
					t.Errorf("state %+v, want %+v", got, tc.want)
				}
			})
		}
		t.Run(string(kind)+"/unplayed", func(t *testing.T) {
			k := f.cat.Media[8].Key
			f.srv.SetWatch(k, simulate.Watch{Played: true, PlayCount: 4, LastPlayed: earlier, Position: time.Minute})
			st, _, b := f.do(http.MethodDelete, "/Users/"+f.srv.UserID()+"/PlayedItems/"+f.key(k), f.auth(f.srv.Token()), "")
			if st != http.StatusOK || !strings.Contains(string(b), `"Played":false`) || strings.Contains(string(b), "LastPlayedDate") {
				t.Fatalf("DELETE PlayedItems: %d %s", st, b)
			}
			if got := f.srv.Watch(k); got != (simulate.Watch{}) {
				t.Errorf("after DELETE: %+v, want everything reset", got)
			}
		})
		t.Run(string(kind)+"/ISO date", func(t *testing.T) {
			k := f.cat.Media[9].Key
			f.srv.SetWatch(k, simulate.Watch{})
			st, _, _ := f.do(http.MethodPost, "/Users/"+f.srv.UserID()+"/PlayedItems/"+f.key(k)+"?DatePlayed=2024-03-01T20:15:00.000Z", f.auth(f.srv.Token()), "")
			if kind == backend.Emby {
				if st != http.StatusBadRequest {
					t.Errorf("Emby with an ISO DatePlayed: %d, want 400", st)
				}
				return
			}
			if st != http.StatusOK || !f.srv.Watch(k).LastPlayed.Equal(at) {
				t.Errorf("Jellyfin with an ISO DatePlayed: %d, %+v", st, f.srv.Watch(k))
			}
		})
		t.Run(string(kind)+"/routes", func(t *testing.T) {
			k := f.cat.Media[10].Key
			f.srv.SetWatch(k, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: earlier})
			var path string
			method := http.MethodDelete
			if kind == backend.Emby {
				method, path = http.MethodPost, "/emby/Users/"+f.srv.UserID()+"/PlayedItems/"+f.key(k)+"/Delete"
			} else {
				path = "/UserPlayedItems/" + f.key(k) + "?userId=" + f.srv.UserID()
			}
			if st, _, b := f.do(method, path, f.auth(f.srv.Token()), ""); st != http.StatusOK || f.srv.Watch(k).Played {
				t.Errorf("%s %s: %d %s, state %+v", method, path, st, b, f.srv.Watch(k))
			}
			if kind == backend.Jellyfin {
				if st, _, _ := f.do(http.MethodPost, "/Users/"+f.srv.UserID()+"/PlayedItems/"+f.key(k)+"/Delete", f.auth(f.srv.Token()), ""); st != http.StatusNotFound {
					t.Errorf("Jellyfin has no …/Delete alias: %d", st)
				}
			}
		})
		t.Run(string(kind)+"/unknown item", func(t *testing.T) {
			unknown := "987654321"
			if kind == backend.Jellyfin {
				unknown = "fedcba9876543210fedcba9876543210"
			}
			st, hdr, b := f.do(http.MethodPost, "/Users/"+f.srv.UserID()+"/PlayedItems/"+unknown, f.auth(f.srv.Token()), "")
			if st != http.StatusNotFound {
				t.Fatalf("unknown item: %d", st)
			}
			if kind == backend.Jellyfin {
				var pd map[string]any
				if err := json.Unmarshal(b, &pd); err != nil || pd["title"] != "Not Found" || pd["status"] != 404.0 || pd["traceId"] == nil || pd["type"] == nil {
					t.Errorf("404 body %s (%s), want ProblemDetails", b, hdr.Get("Content-Type"))
				}
				if st, _, _ := f.do(http.MethodPost, "/Users/"+f.srv.UserID()+"/PlayedItems/123", f.auth(f.srv.Token()), ""); st != http.StatusBadRequest {
					t.Errorf("Jellyfin with a malformed id: %d, want 400", st)
				}
			}
		})
	}
}

// TestMediaBrowserUserData checks the partial update of POST UserData, the
// answers (Jellyfin the DTO, Emby an empty 200) and that DateLastSaved,
// hence MinDateLastSaved, ignores user-data changes.
func TestMediaBrowserUserData(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			f := mbStart(t, kind, simulate.Options{})
			k := f.cat.Media[11].Key
			start := simulate.Watch{Played: true, PlayCount: 9, LastPlayed: mbBase.Add(-time.Hour)}
			f.srv.SetWatch(k, start)
			var before mbPage
			f.get("/Users/"+f.srv.UserID()+"/Items?Ids="+f.key(k)+"&Fields=DateLastSaved", &before)
			saved := before.Items[0]["DateLastSaved"]

			path := "/Users/" + f.srv.UserID() + "/Items/" + f.key(k) + "/UserData"
			st, _, b := f.do(http.MethodPost, path, f.auth(f.srv.Token()), `{"PlaybackPositionTicks":17431791950,"Played":false}`)
			if st != http.StatusOK {
				t.Fatalf("POST UserData: %d %s", st, b)
			}
			if kind == backend.Emby && len(b) != 0 {
				t.Errorf("Emby answered %q, want an empty body", b)
			}
			if kind == backend.Jellyfin && !strings.Contains(string(b), `"PlaybackPositionTicks":17431791950`) {
				t.Errorf("Jellyfin answered %q, want the DTO", b)
			}
			want := simulate.Watch{PlayCount: 9, LastPlayed: start.LastPlayed, Position: 17431791950 * 100}
			if got := f.srv.Watch(k); got != want {
				t.Errorf("after a partial update: %+v, want %+v (count and date kept)", got, want)
			}
			if ud := f.userData(k); ud["PlaybackPositionTicks"] != 17431791950.0 || ud["Played"] != false || ud["PlayCount"] != 9.0 {
				t.Errorf("GET UserData = %v", ud)
			}
			if st, _, _ := f.do(http.MethodPost, path, f.auth(f.srv.Token()), `{"PlaybackPositionTicks":`); st != http.StatusBadRequest {
				t.Errorf("bad JSON: %d, want 400", st)
			}

			var after mbPage
			f.get("/Users/"+f.srv.UserID()+"/Items?Ids="+f.key(k)+"&Fields=DateLastSaved", &after)
			if after.Items[0]["DateLastSaved"] != saved {
				t.Errorf("DateLastSaved moved on a user-data change: %v -> %v", saved, after.Items[0]["DateLastSaved"])
			}
			recent := url.QueryEscape(mbBase.Add(-time.Minute).Format(time.RFC3339))
			for _, key := range []string{"MinDateLastSaved", "MinDateLastSavedForUser"} {
				p := f.items("Recursive=true&IncludeItemTypes=Movie,Episode&" + key + "=" + recent)
				for _, it := range p.Items {
					if it["Id"] == f.key(k) {
						t.Errorf("%s lists an item whose user data changed", key)
					}
				}
			}
		})
	}
}

func TestMediaBrowserUsersAreIsolated(t *testing.T) {
	f := mbStart(t, backend.Jellyfin, simulate.Options{})
	otherID, otherTok := f.srv.OtherUser()
	k := f.cat.Media[12].Key
	f.srv.SetWatch(k, simulate.Watch{Played: true, PlayCount: 1, LastPlayed: mbBase})
	f.srv.SetWatch(f.cat.Media[13].Key, simulate.Watch{})

	// The other user sees its own (empty) state and writes only its own.
	st, _, b := f.do(http.MethodGet, "/Items?userId="+otherID+"&Ids="+f.key(k), f.auth(otherTok), "")
	if st != http.StatusOK || !strings.Contains(string(b), `"Played":false`) {
		t.Fatalf("other user's view: %d %s", st, b)
	}
	if st, _, _ := f.do(http.MethodPost, "/UserPlayedItems/"+f.key(f.cat.Media[13].Key), f.auth(otherTok), ""); st != http.StatusOK {
		t.Fatalf("other user marking played (user from the token): %d", st)
	}
	if f.srv.Watch(f.cat.Media[13].Key).Played {
		t.Error("the other user's write changed the default user's state")
	}
	if !f.srv.WatchOf(otherID, f.cat.Media[13].Key).Played {
		t.Error("the other user's write was lost")
	}
	// A non-admin may not act for someone else; an admin and an API key may.
	if st, _, _ := f.do(http.MethodPost, "/Users/"+f.srv.UserID()+"/PlayedItems/"+f.key(k), f.auth(otherTok), ""); st != http.StatusForbidden {
		t.Errorf("a non-admin writing for another user: %d, want 403", st)
	}
	if st, _, _ := f.do(http.MethodDelete, "/Users/"+otherID+"/PlayedItems/"+f.key(f.cat.Media[13].Key), f.auth(f.srv.APIKey()), ""); st != http.StatusOK {
		t.Errorf("an API key writing for a user: %d", st)
	}
	if f.srv.WatchOf(otherID, f.cat.Media[13].Key).Played {
		t.Error("the API key's write was lost")
	}
	// An API key lists without user data unless a user is named.
	st, _, b = f.do(http.MethodGet, "/Items?Ids="+f.key(k), f.auth(f.srv.APIKey()), "")
	if st != http.StatusOK || strings.Contains(string(b), "UserData") {
		t.Errorf("API key without a user: %d %s", st, b)
	}
}

func TestMediaBrowserReplace(t *testing.T) {
	for _, kind := range []backend.Kind{backend.Jellyfin, backend.Emby} {
		t.Run(string(kind), func(t *testing.T) {
			f := mbStart(t, kind, simulate.Options{})
			k := f.cat.Media[14].Key
			f.srv.SetWatch(k, simulate.Watch{Played: true, PlayCount: 2, LastPlayed: mbBase})
			old := f.key(k)
			added := mbBase.Add(24 * time.Hour)
			f.srv.Replace(k, added)
			id := f.key(k)
			if id == old || id == "" {
				t.Fatalf("id %q after Replace, was %q", id, old)
			}
			if got := f.srv.Watch(k); got != (simulate.Watch{}) {
				t.Errorf("state survived Replace: %+v", got)
			}
			if p := f.items("Ids=" + old); len(p.Items) != 0 {
				t.Errorf("the old id still resolves")
			}
			if st, _, _ := f.do(http.MethodPost, "/Users/"+f.srv.UserID()+"/PlayedItems/"+old, f.auth(f.srv.Token()), ""); st != http.StatusNotFound {
				t.Errorf("writing to the old id: %d, want 404", st)
			}
			// Newest now: last in DateCreated order.
			p := f.items("Recursive=true&IncludeItemTypes=Movie,Episode&SortBy=DateCreated&SortOrder=Descending&Limit=1&Fields=DateCreated")
			if p.Items[0]["Id"] != id || !mbTime(t, p.Items[0]["DateCreated"]).Equal(added) {
				t.Errorf("newest item %v, want %s added %v", p.Items[0], id, added)
			}
			if p.TotalRecordCount != 200 {
				t.Errorf("total %d after Replace", p.TotalRecordCount)
			}
		})
	}
}

func TestMediaBrowserOnlyAndFaults(t *testing.T) {
	f := mbStart(t, backend.Emby, simulate.Options{Only: func(m simulate.Media) bool { return m.Type == backend.Movie }})
	if f.key("s1e1x1") != "" || f.key("m1") == "" {
		t.Errorf("Only: RemoteID episode %q movie %q", f.key("s1e1x1"), f.key("m1"))
	}
	if n := f.items("Recursive=true&IncludeItemTypes=Movie,Episode,Series").TotalRecordCount; n != 40 {
		t.Errorf("Only movies: %d items", n)
	}
	before := f.srv.Requests()
	f.srv.Faults().Add(simulate.Fault{Kind: simulate.FaultStatus, Status: 503, Times: 1})
	if st, _, _ := f.do(http.MethodGet, "/System/Info/Public", nil, ""); st != 503 {
		t.Errorf("fault not applied: %d", st)
	}
	if st, _, _ := f.do(http.MethodGet, "/System/Info/Public", nil, ""); st != 200 {
		t.Errorf("fault outlived Times: %d", st)
	}
	if got := f.srv.Requests() - before; got != 2 {
		t.Errorf("Requests counted %d, want 2", got)
	}
}

// TestMediaBrowserConcurrent runs readers and writers together (go test
// -race checks the locking).
func TestMediaBrowserConcurrent(t *testing.T) {
	f := mbStart(t, backend.Jellyfin, simulate.Options{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				k := f.cat.Media[(g*20+i)%len(f.cat.Media)].Key
				switch i % 4 {
				case 0:
					f.do(http.MethodPost, "/UserPlayedItems/"+f.key(k)+"?DatePlayed=20240101000000", f.auth(f.srv.Token()), "")
				case 1:
					f.do(http.MethodPost, "/UserItems/"+f.key(k)+"/UserData", f.auth(f.srv.Token()), `{"PlaybackPositionTicks":600000000}`)
				case 2:
					f.do(http.MethodGet, "/Items?Recursive=true&SortBy=DatePlayed&SortOrder=Descending&IsPlayed=true&Limit=50&StartIndex="+fmt.Sprint(i), f.auth(f.srv.Token()), "")
				default:
					f.srv.SetWatch(k, simulate.Watch{})
					_ = f.srv.Watch(k)
				}
			}
		})
	}
	wg.Go(func() { f.srv.Replace(f.cat.Media[0].Key, mbBase) })
	wg.Wait()
}

// BenchmarkMediaBrowserPage measures one page of 500 in the middle of a
// large library, after the first page (which builds the order).
func BenchmarkMediaBrowserPage(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cat := simulate.Generate(simulate.GenerateOptions{Items: n, Seed: 1})
			srv, err := simulate.NewJellyfin(cat, simulate.Options{Watches: simulate.GenerateWatches(cat, 2, time.Time{})})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			for _, q := range []string{
				"SortBy=DateCreated,SortName&SortOrder=Ascending",
				"SortBy=DatePlayed,SortName&SortOrder=Descending&IsPlayed=true",
			} {
				b.Run(strings.SplitN(q, ",", 2)[0], func(b *testing.B) {
					get := func(start int) {
						req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/Items?userId=%s&Recursive=true&IncludeItemTypes=Movie,Episode&Fields=ProviderIds,DateCreated,Path&%s&StartIndex=%d&Limit=500",
							srv.URL(), srv.UserID(), q, start), nil)
						req.Header.Set("Authorization", `MediaBrowser Token="`+srv.Token()+`"`)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					get(0)
					b.ResetTimer()
					for i := 0; b.Loop(); i++ {
						get((n / 3) + (i%50)*500)
					}
				})
			}
		})
	}
}
