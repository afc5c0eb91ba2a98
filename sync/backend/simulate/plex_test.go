package simulate

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
)

var plexTestNow = time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)

// plexTestCatalog: two movies (one modern, one legacy, one without ids)
// and a show of three episodes, one of them legacy.
func plexTestCatalog() *Catalog {
	at := func(d int) time.Time { return time.Date(2024, 1, d, 10, 0, 0, 0, time.UTC) }
	show := Show{Key: "s1", Title: "The Show", Year: 2014, GUIDs: []backend.GUID{{Kind: "tvdb", Value: "268592"}, {Kind: "imdb", Value: "tt2661044"}}}
	media := []Media{
		{Key: "m1", Type: backend.Movie, Title: "Batman", Year: 1989, Duration: 126 * time.Minute, Path: "/m/Batman (1989).mkv", Added: at(5),
			GUIDs: []backend.GUID{{Kind: "imdb", Value: "tt0096895"}, {Kind: "tmdb", Value: "268"}}},
		{Key: "m2", Type: backend.Movie, Title: "Big Buck Bunny", Year: 2008, Duration: 10 * time.Minute, Path: "/m/bbb.mp4", Added: at(2),
			GUIDs: []backend.GUID{{Kind: "imdb", Value: "tt1254207"}}, LegacyPlex: true},
		{Key: "m3", Type: backend.Movie, Title: "Home Video", Year: 2020, Duration: 3 * time.Minute, Path: "/m/home.mkv", Added: at(9)},
		{Key: "e1", Type: backend.Episode, Title: "Pilot", ShowKey: "s1", Season: 1, Episode: 1, Duration: 42 * time.Minute, Path: "/tv/S01E01.mkv", Added: at(3),
			GUIDs: []backend.GUID{{Kind: "tvdb", Value: "4812"}}},
		{Key: "e2", Type: backend.Episode, Title: "Earth Skills", ShowKey: "s1", Season: 1, Episode: 2, Duration: 42 * time.Minute, Path: "/tv/S01E02.mkv", Added: at(4)},
		{Key: "e3", Type: backend.Episode, Title: "Murphy's Law", ShowKey: "s1", Season: 2, Episode: 1, Duration: 42 * time.Minute, Path: "/tv/S02E01.mkv", Added: at(1), LegacyPlex: true},
	}
	return NewCatalog([]Show{show}, media)
}

func startPlex(t *testing.T, opt Options) *PlexServer {
	t.Helper()
	if opt.Now == nil {
		opt.Now = func() time.Time { return plexTestNow }
	}
	s, err := NewPlex(plexTestCatalog(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type plexCall struct {
	method string
	path   string
	query  string
	token  string // "" sends none; "default" the server's
	json   bool
	header map[string]string
}

func (s *PlexServer) call(t *testing.T, c plexCall) (*http.Response, []byte) {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	u := s.URL() + c.path
	if c.query != "" {
		u += "?" + c.query
	}
	req, err := http.NewRequest(c.method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch c.token {
	case "default":
		req.Header.Set("X-Plex-Token", s.Token())
	case "":
	default:
		req.Header.Set("X-Plex-Token", c.token)
	}
	if c.json {
		req.Header.Set("Accept", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// getJSON GETs with the default token as JSON and returns the MediaContainer.
func (s *PlexServer) getJSON(t *testing.T, path, query string) (map[string]any, http.Header) {
	t.Helper()
	resp, body := s.call(t, plexCall{path: path, query: query, token: "default", json: true})
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s?%s: %d %s", path, query, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	var doc struct{ MediaContainer map[string]any }
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	if doc.MediaContainer == nil {
		t.Fatalf("GET %s: no MediaContainer in %s", path, body)
	}
	return doc.MediaContainer, resp.Header
}

func plexMetadataOf(t *testing.T, mc map[string]any) []map[string]any {
	t.Helper()
	raw, _ := mc["Metadata"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, r := range raw {
		out = append(out, r.(map[string]any))
	}
	return out
}

func (s *PlexServer) meta(t *testing.T, k string) map[string]any {
	t.Helper()
	mc, _ := s.getJSON(t, "/library/metadata/"+s.RemoteID(k), "")
	md := plexMetadataOf(t, mc)
	if len(md) != 1 {
		t.Fatalf("metadata of %s: %d elements", k, len(md))
	}
	return md[0]
}

const plex401 = "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"

func TestPlexAuth(t *testing.T) {
	s := startPlex(t, Options{})
	for _, c := range []plexCall{
		{path: "/library/sections"},
		{path: "/library/sections", token: "wrong"},
		{path: "/", json: true},
		{path: "/:/scrobble", query: "identifier=com.plexapp.plugins.library&key=" + s.RemoteID("m1"), token: "nope"},
	} {
		resp, body := s.call(t, c)
		if resp.StatusCode != 401 || string(body) != plex401 || resp.Header.Get("Content-Type") != "text/html" {
			t.Errorf("%s with token %q: %d %q %q", c.path, c.token, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if w := s.Watch("m1"); w.Played {
		t.Errorf("a rejected scrobble changed the state")
	}
	// /identity needs no token.
	mc, _ := func() (map[string]any, http.Header) {
		resp, body := s.call(t, plexCall{path: "/identity", json: true})
		if resp.StatusCode != 200 {
			t.Fatalf("/identity: %d", resp.StatusCode)
		}
		var doc struct{ MediaContainer map[string]any }
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		return doc.MediaContainer, resp.Header
	}()
	if mc["machineIdentifier"] != s.ServerID() || mc["version"] == "" || mc["claimed"] != true {
		t.Errorf("/identity = %v", mc)
	}
	// The token works from the query too, as every X-Plex-* parameter does.
	resp, _ := s.call(t, plexCall{path: "/library/sections", query: "X-Plex-Token=" + s.Token()})
	if resp.StatusCode != 200 {
		t.Errorf("token in the query: %d", resp.StatusCode)
	}
	if resp.Header.Get("X-Plex-Protocol") != "1.0" {
		t.Errorf("no X-Plex-Protocol header")
	}
}

func TestPlexXMLByDefault(t *testing.T) {
	s := startPlex(t, Options{Watches: map[string]Watch{"m1": {Played: true, PlayCount: 2, LastPlayed: plexTestNow.Add(-time.Hour)}}})
	resp, body := s.call(t, plexCall{path: "/library/sections/1/all", query: "type=1&includeGuids=1", token: "default"})
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("Content-Type %q, want XML", ct)
	}
	var doc struct {
		XMLName   xml.Name `xml:"MediaContainer"`
		Size      int      `xml:"size,attr"`
		TotalSize int      `xml:"totalSize,attr"`
		Video     []struct {
			RatingKey string `xml:"ratingKey,attr"`
			Title     string `xml:"title,attr"`
			ViewCount *int   `xml:"viewCount,attr"`
			GUID      string `xml:"guid,attr"`
			Guid      []struct {
				ID string `xml:"id,attr"`
			} `xml:"Guid"`
			Media []struct {
				Part []struct {
					File string `xml:"file,attr"`
				} `xml:"Part"`
			} `xml:"Media"`
		} `xml:"Video"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if doc.Size != 3 || doc.TotalSize != 3 || len(doc.Video) != 3 {
		t.Fatalf("XML listing: %+v", doc)
	}
	for _, v := range doc.Video {
		if v.RatingKey == s.RemoteID("m1") {
			if v.ViewCount == nil || *v.ViewCount != 2 || len(v.Guid) != 2 || v.Guid[0].ID != "imdb://tt0096895" || v.Media[0].Part[0].File != "/m/Batman (1989).mkv" {
				t.Errorf("m1 in XML: %+v", v)
			}
		} else if v.ViewCount != nil {
			t.Errorf("%s: unwatched item has viewCount", v.Title)
		}
	}
}

func TestPlexOmitsZeroWatchFields(t *testing.T) {
	s := startPlex(t, Options{Watches: map[string]Watch{
		"m1": {Played: true, PlayCount: 1, LastPlayed: plexTestNow.Add(-48 * time.Hour)},
		"e1": {LastPlayed: plexTestNow.Add(-time.Hour), Position: 75 * time.Second},
	}})
	m1, m2, e1 := s.meta(t, "m1"), s.meta(t, "m2"), s.meta(t, "e1")
	for _, k := range []string{"viewCount", "viewOffset", "lastViewedAt"} {
		if _, ok := m2[k]; ok {
			t.Errorf("unwatched item has %s: %v", k, m2[k])
		}
	}
	if _, ok := m1["viewOffset"]; ok {
		t.Errorf("played item without progress has viewOffset")
	}
	if m1["viewCount"] != 1.0 || m1["lastViewedAt"] != float64(plexTestNow.Add(-48*time.Hour).Unix()) {
		t.Errorf("played item: %v", m1)
	}
	if _, ok := e1["viewCount"]; ok || e1["viewOffset"] != 75000.0 {
		t.Errorf("in-progress episode: viewCount %v viewOffset %v", e1["viewCount"], e1["viewOffset"])
	}
	// Units: duration ms, addedAt epoch seconds, the file of the first part.
	if m1["duration"] != float64(126*60*1000) || m1["addedAt"] != float64(time.Date(2024, 1, 5, 10, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("m1 duration/addedAt: %v %v", m1["duration"], m1["addedAt"])
	}
	part := m1["Media"].([]any)[0].(map[string]any)["Part"].([]any)[0].(map[string]any)
	if part["file"] != "/m/Batman (1989).mkv" {
		t.Errorf("part: %v", part)
	}
}

func TestPlexGUIDShapes(t *testing.T) {
	s := startPlex(t, Options{})
	m1, m2, m3 := s.meta(t, "m1"), s.meta(t, "m2"), s.meta(t, "m3")
	e1, e2, e3 := s.meta(t, "e1"), s.meta(t, "e2"), s.meta(t, "e3")
	if g := m1["guid"].(string); !strings.HasPrefix(g, "plex://movie/") || len(m1["Guid"].([]any)) != 2 {
		t.Errorf("modern movie: guid %q Guid %v", g, m1["Guid"])
	}
	if m2["guid"] != "com.plexapp.agents.imdb://tt1254207?lang=en" || m2["Guid"] != nil {
		t.Errorf("legacy movie: guid %v Guid %v", m2["guid"], m2["Guid"])
	}
	if g := m3["guid"].(string); !strings.HasPrefix(g, "local://") || m3["Guid"] != nil {
		t.Errorf("movie without ids: guid %q Guid %v", g, m3["Guid"])
	}
	if g := e1["guid"].(string); !strings.HasPrefix(g, "plex://episode/") || e1["Guid"].([]any)[0].(map[string]any)["id"] != "tvdb://4812" {
		t.Errorf("modern episode: %v %v", g, e1["Guid"])
	}
	if g := e2["guid"].(string); !strings.HasPrefix(g, "local://") {
		t.Errorf("episode without ids: %v", g)
	}
	if e3["guid"] != "com.plexapp.agents.thetvdb://268592/2/1?lang=en" || e3["Guid"] != nil {
		t.Errorf("legacy episode: %v %v", e3["guid"], e3["Guid"])
	}
	if e1["grandparentRatingKey"] == "" || e1["grandparentTitle"] != "The Show" || e1["parentIndex"] != 1.0 || e1["index"] != 1.0 {
		t.Errorf("episode fields: %v", e1)
	}
	// The show has Guid[] (not every episode is legacy).
	show, _ := s.getJSON(t, "/library/metadata/"+e1["grandparentRatingKey"].(string), "")
	sh := plexMetadataOf(t, show)[0]
	if sh["type"] != "show" || len(sh["Guid"].([]any)) != 2 || sh["leafCount"] != 3.0 || sh["childCount"] != 2.0 {
		t.Errorf("show: %v", sh)
	}
	// includeGuids=1 controls Guid[] in listings.
	for _, inc := range []string{"0", "1"} {
		mc, _ := s.getJSON(t, "/library/sections/1/all", "type=1&includeGuids="+inc)
		n := 0
		for _, m := range plexMetadataOf(t, mc) {
			if m["Guid"] != nil {
				n++
			}
		}
		if (inc == "1") != (n == 1) {
			t.Errorf("includeGuids=%s: %d items with Guid[]", inc, n)
		}
	}
}

func TestPlexSectionsAndAccounts(t *testing.T) {
	s := startPlex(t, Options{Name: "Living Room"})
	mc, _ := s.getJSON(t, "/library/sections", "")
	dirs := mc["Directory"].([]any)
	var types []string
	for _, d := range dirs {
		types = append(types, d.(map[string]any)["key"].(string)+"="+d.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "1=movie,2=show,3=artist" {
		t.Errorf("sections: %v", types)
	}
	root, _ := s.getJSON(t, "/", "")
	if root["friendlyName"] != "Living Room" || root["machineIdentifier"] != s.ServerID() {
		t.Errorf("/: %v", root)
	}
	accts, _ := s.getJSON(t, "/accounts", "")
	if accts["size"] != 3.0 {
		t.Errorf("owner sees %v accounts, want 3 (system, owner, guest)", accts["size"])
	}
	resp, body := s.call(t, plexCall{path: "/accounts", token: s.GuestToken(), json: true})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"guest"`) || strings.Contains(string(body), `"owner"`) {
		t.Errorf("guest /accounts: %d %s", resp.StatusCode, body)
	}
}

func TestPlexPaging(t *testing.T) {
	s := startPlex(t, Options{})
	// Headers or query; body offset/size/totalSize; response headers.
	for _, c := range []plexCall{
		{path: "/library/sections/2/all", query: "type=4&X-Plex-Container-Start=1&X-Plex-Container-Size=1"},
		{path: "/library/sections/2/all", query: "type=4", header: map[string]string{"X-Plex-Container-Start": "1", "X-Plex-Container-Size": "1"}},
	} {
		c.token, c.json = "default", true
		resp, body := s.call(t, c)
		var doc struct{ MediaContainer map[string]any }
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		mc := doc.MediaContainer
		if mc["offset"] != 1.0 || mc["size"] != 1.0 || mc["totalSize"] != 3.0 || len(plexMetadataOf(t, mc)) != 1 {
			t.Errorf("page: %v", mc)
		}
		if resp.Header.Get("X-Plex-Container-Start") != "1" || resp.Header.Get("X-Plex-Container-Total-Size") != "3" {
			t.Errorf("headers: %v", resp.Header)
		}
		// Sorted by addedAt: e3 (Jan 1), e1 (Jan 3), e2 (Jan 4).
		if md := plexMetadataOf(t, mc); md[0]["ratingKey"] != s.RemoteID("e1") {
			t.Errorf("second episode by addedAt is %v, want e1's %s", md[0]["ratingKey"], s.RemoteID("e1"))
		}
	}
	// Size 0 and HEAD give the count only.
	resp, body := s.call(t, plexCall{method: http.MethodHead, path: "/library/sections/1/all", query: "type=1&X-Plex-Container-Start=0&X-Plex-Container-Size=0", token: "default", json: true})
	if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("X-Plex-Container-Total-Size") != "3" {
		t.Errorf("HEAD: %d %q total %q", resp.StatusCode, body, resp.Header.Get("X-Plex-Container-Total-Size"))
	}
	mc, _ := s.getJSON(t, "/library/sections/1/all", "type=1&X-Plex-Container-Size=0")
	if mc["size"] != 0.0 || mc["totalSize"] != 3.0 || mc["Metadata"] != nil {
		t.Errorf("size 0: %v", mc)
	}
	// Past the end: an empty page, still the total.
	mc, _ = s.getJSON(t, "/library/sections/1/all", "type=1&X-Plex-Container-Start=10&X-Plex-Container-Size=5")
	if mc["size"] != 0.0 || mc["totalSize"] != 3.0 {
		t.Errorf("past the end: %v", mc)
	}
	// Shows and seasons are listed too; bad paging is a 400.
	mc, _ = s.getJSON(t, "/library/sections/2/all", "type=2")
	if md := plexMetadataOf(t, mc); len(md) != 1 || md[0]["type"] != "show" {
		t.Errorf("type=2: %v", md)
	}
	mc, _ = s.getJSON(t, "/library/sections/2/all", "type=3")
	if md := plexMetadataOf(t, mc); len(md) != 2 || md[0]["type"] != "season" {
		t.Errorf("type=3: %v", md)
	}
	if resp, _ := s.call(t, plexCall{path: "/library/sections/1/all", query: "X-Plex-Container-Size=-1", token: "default"}); resp.StatusCode != 400 {
		t.Errorf("negative size: %d", resp.StatusCode)
	}
	if resp, _ := s.call(t, plexCall{path: "/library/sections/9/all", token: "default"}); resp.StatusCode != 404 {
		t.Errorf("unknown section: %d", resp.StatusCode)
	}
}

func TestPlexLastViewedFilter(t *testing.T) {
	s := startPlex(t, Options{Watches: map[string]Watch{
		"m1": {Played: true, PlayCount: 1, LastPlayed: plexTestNow.Add(-10 * 24 * time.Hour)},
		"m2": {Played: true, PlayCount: 3, LastPlayed: plexTestNow.Add(-2 * 24 * time.Hour)},
		"m3": {LastPlayed: plexTestNow.Add(-1 * time.Hour), Position: time.Minute},
	}})
	cut := plexTestNow.Add(-5 * 24 * time.Hour).Unix()
	keys := func(mc map[string]any) []string {
		var out []string
		for _, m := range plexMetadataOf(t, mc) {
			for _, k := range []string{"m1", "m2", "m3"} {
				if m["ratingKey"] == s.RemoteID(k) {
					out = append(out, k)
				}
			}
		}
		return out
	}
	enc := url.Values{"type": {"1"}, "lastViewedAt>>": {strconv.FormatInt(cut, 10)}}.Encode()
	if !strings.Contains(enc, "lastViewedAt%3E%3E=") {
		t.Fatalf("encoding: %s", enc)
	}
	for name, c := range map[string]struct {
		query string
		want  string
	}{
		"encoded after":       {enc, "m2,m3"},
		"raw after":           {"type=1&lastViewedAt>>=" + strconv.FormatInt(cut, 10), "m2,m3"},
		"before":              {"type=1&lastViewedAt<<=" + strconv.FormatInt(cut, 10), "m1"},
		"relative":            {"type=1&lastViewedAt>>=-5d", "m2,m3"},
		"sort desc":           {"type=1&lastViewedAt>>=0&sort=lastViewedAt:desc", "m3,m2,m1"},
		"sort asc":            {"type=1&lastViewedAt>>=0&sort=lastViewedAt", "m1,m2,m3"},
		"added desc":          {"type=1&sort=addedAt:desc", "m3,m1,m2"},
		"added asc (default)": {"type=1", "m2,m1,m3"},
	} {
		mc, _ := s.getJSON(t, "/library/sections/1/all", c.query)
		if got := strings.Join(keys(mc), ","); got != c.want {
			t.Errorf("%s (%s): %s, want %s", name, c.query, got, c.want)
		}
	}
	// A cached listing sees a change made after it.
	s.SetWatch("m1", Watch{Played: true, PlayCount: 2, LastPlayed: plexTestNow})
	mc, _ := s.getJSON(t, "/library/sections/1/all", enc)
	if got := strings.Join(keys(mc), ","); got != "m2,m1,m3" { // addedAt order
		t.Errorf("after SetWatch: %s", got)
	}
}

func TestPlexScrobble(t *testing.T) {
	s := startPlex(t, Options{Watches: map[string]Watch{"m1": {LastPlayed: plexTestNow.Add(-time.Hour), Position: 70 * time.Second}}})
	q := "identifier=com.plexapp.plugins.library&key=" + s.RemoteID("m1")
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		resp, body := s.call(t, plexCall{method: method, path: "/:/scrobble", query: q, token: "default"})
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("%s scrobble: %d %q", method, resp.StatusCode, body)
		}
	}
	if w := s.Watch("m1"); !w.Played || w.PlayCount != 2 || w.Position != 0 || !w.LastPlayed.Equal(plexTestNow) {
		t.Errorf("after two scrobbles: %+v", w)
	}
	m := s.meta(t, "m1")
	if _, ok := m["viewOffset"]; ok || m["viewCount"] != 2.0 || m["lastViewedAt"] != float64(plexTestNow.Unix()) {
		t.Errorf("metadata after scrobble: %v", m)
	}
	resp, _ := s.call(t, plexCall{method: http.MethodPut, path: "/:/unscrobble", query: q, token: "default"})
	if w := s.Watch("m1"); resp.StatusCode != 200 || w != (Watch{}) {
		t.Errorf("after unscrobble: %d %+v", resp.StatusCode, w)
	}
	for name, c := range map[string]struct {
		query  string
		status int
	}{
		"no identifier":      {"key=" + s.RemoteID("m1"), 400},
		"no key":             {"identifier=com.plexapp.plugins.library", 400},
		"unknown key":        {"identifier=com.plexapp.plugins.library&key=999999", 404},
		"unknown identifier": {"identifier=com.example&key=" + s.RemoteID("m1"), 404},
	} {
		resp, body := s.call(t, plexCall{path: "/:/scrobble", query: c.query, token: "default"})
		if resp.StatusCode != c.status || !strings.HasPrefix(string(body), "<html>") {
			t.Errorf("%s: %d %q, want %d with an HTML body", name, resp.StatusCode, body, c.status)
		}
	}
	if resp, _ := s.call(t, plexCall{method: http.MethodDelete, path: "/:/scrobble", query: q, token: "default"}); resp.StatusCode != 405 {
		t.Errorf("DELETE scrobble: %d", resp.StatusCode)
	}
	// Scrobbling a show marks each of its episodes.
	show := s.meta(t, "e1")["grandparentRatingKey"].(string)
	s.call(t, plexCall{path: "/:/scrobble", query: "identifier=com.plexapp.plugins.library&key=" + show, token: "default"})
	for _, k := range []string{"e1", "e2", "e3"} {
		if !s.Watch(k).Played {
			t.Errorf("%s not played after scrobbling its show", k)
		}
	}
}

func TestPlexTimeline(t *testing.T) {
	s := startPlex(t, Options{})
	id := s.RemoteID("e1") // 42 minutes
	dur := strconv.Itoa(42 * 60 * 1000)
	timeline := func(method, query string, clientID bool) (*http.Response, map[string]any) {
		t.Helper()
		c := plexCall{method: method, path: "/:/timeline", query: query, token: "default", json: true}
		if clientID {
			c.header = map[string]string{"X-Plex-Client-Identifier": "test"}
		}
		resp, body := s.call(t, c)
		var doc struct{ MediaContainer map[string]any }
		_ = json.Unmarshal(body, &doc)
		return resp, doc.MediaContainer
	}
	base := "ratingKey=" + id + "&key=/library/metadata/" + id + "&identifier=com.plexapp.plugins.library&state=stopped"
	// Without the client identifier or the duration Plex ignores it.
	timeline(http.MethodGet, base+"&time=75000&duration="+dur, false)
	timeline(http.MethodGet, base+"&time=75000", true)
	if w := s.Watch("e1"); w != (Watch{}) {
		t.Fatalf("an incomplete timeline report changed the state: %+v", w)
	}
	resp, mc := timeline(http.MethodPost, base+"&time=75000&duration="+dur, true)
	if resp.StatusCode != 200 || mc["viewOffset"] != 75000.0 || mc["size"] != 0.0 {
		t.Errorf("timeline answer: %d %v", resp.StatusCode, mc)
	}
	if w := s.Watch("e1"); w.Position != 75*time.Second || w.Played || !w.LastPlayed.Equal(plexTestNow) {
		t.Errorf("after timeline: %+v", w)
	}
	// The client identifier may come in the query too; time 0 changes nothing.
	timeline(http.MethodGet, base+"&time=0&duration="+dur+"&X-Plex-Client-Identifier=q", false)
	if w := s.Watch("e1"); w.Position != 75*time.Second {
		t.Errorf("time=0 changed the position: %+v", w)
	}
	// Past 90 % it counts as a play.
	timeline(http.MethodGet, base+"&time=2300000&duration="+dur, true)
	if w := s.Watch("e1"); !w.Played || w.PlayCount != 1 || w.Position != 0 {
		t.Errorf("after a report past 90%%: %+v", w)
	}
	if resp, _ := timeline(http.MethodGet, "ratingKey=999999&state=stopped&time=1&duration=2", true); resp.StatusCode != 404 {
		t.Errorf("unknown key: %d", resp.StatusCode)
	}
}

func TestPlexMetadataList(t *testing.T) {
	s := startPlex(t, Options{})
	mc, _ := s.getJSON(t, "/library/metadata/"+s.RemoteID("m1")+",424242,"+s.RemoteID("e2"), "")
	md := plexMetadataOf(t, mc)
	if len(md) != 2 || md[0]["ratingKey"] != s.RemoteID("m1") || md[1]["ratingKey"] != s.RemoteID("e2") {
		t.Errorf("comma list: %v", md)
	}
	if md[0]["librarySectionID"] != 1.0 || md[1]["librarySectionID"] != 2.0 {
		t.Errorf("sections: %v %v", md[0]["librarySectionID"], md[1]["librarySectionID"])
	}
	resp, body := s.call(t, plexCall{path: "/library/metadata/424242", token: "default", json: true})
	if resp.StatusCode != 404 || string(body) != "<html><head><title>Not Found</title></head><body><h1>404 Not Found</h1></body></html>" {
		t.Errorf("unknown id: %d %s", resp.StatusCode, body)
	}
}

func TestPlexAccountsAreSeparate(t *testing.T) {
	s := startPlex(t, Options{Watches: map[string]Watch{"m1": {Played: true, PlayCount: 1, LastPlayed: plexTestNow.Add(-time.Hour)}}})
	q := "identifier=com.plexapp.plugins.library&key=" + s.RemoteID("m2")
	if resp, _ := s.call(t, plexCall{path: "/:/scrobble", query: q, token: s.GuestToken()}); resp.StatusCode != 200 {
		t.Fatalf("guest scrobble: %d", resp.StatusCode)
	}
	if s.Watch("m2").Played || !s.GuestWatch("m2").Played {
		t.Errorf("guest's scrobble: owner %+v guest %+v", s.Watch("m2"), s.GuestWatch("m2"))
	}
	resp, body := s.call(t, plexCall{path: "/library/metadata/" + s.RemoteID("m1"), token: s.GuestToken(), json: true})
	if resp.StatusCode != 200 || strings.Contains(string(body), "viewCount") {
		t.Errorf("guest sees the owner's state: %s", body)
	}
}

func TestPlexReplace(t *testing.T) {
	s := startPlex(t, Options{Watches: map[string]Watch{"m1": {Played: true, PlayCount: 1, LastPlayed: plexTestNow.Add(-time.Hour)}}})
	old := s.RemoteID("m1")
	added := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	s.Replace("m1", added)
	if s.RemoteID("m1") == old || s.Watch("m1") != (Watch{}) {
		t.Errorf("after Replace: id %s (was %s), watch %+v", s.RemoteID("m1"), old, s.Watch("m1"))
	}
	if resp, _ := s.call(t, plexCall{path: "/library/metadata/" + old, token: "default"}); resp.StatusCode != 404 {
		t.Errorf("old id answers %d", resp.StatusCode)
	}
	m := s.meta(t, "m1")
	if m["addedAt"] != float64(added.Unix()) {
		t.Errorf("addedAt %v", m["addedAt"])
	}
	// The addedAt order follows: m1 is now the newest movie.
	mc, _ := s.getJSON(t, "/library/sections/1/all", "type=1")
	md := plexMetadataOf(t, mc)
	if md[len(md)-1]["ratingKey"] != s.RemoteID("m1") {
		t.Errorf("m1 is not last by addedAt")
	}
}

func TestPlexOnlyAndRequests(t *testing.T) {
	s := startPlex(t, Options{Only: func(m Media) bool { return m.Type == backend.Movie }})
	if s.RemoteID("e1") != "" || s.RemoteID("m1") == "" {
		t.Errorf("Only: e1 %q m1 %q", s.RemoteID("e1"), s.RemoteID("m1"))
	}
	before := s.Requests()
	mc, _ := s.getJSON(t, "/library/sections/2/all", "type=4")
	if mc["totalSize"] != 0.0 {
		t.Errorf("episodes on a movies-only server: %v", mc["totalSize"])
	}
	s.Faults().Add(Fault{Kind: FaultStatus, Status: 503, Times: 1})
	if resp, _ := s.call(t, plexCall{path: "/identity"}); resp.StatusCode != 503 {
		t.Errorf("fault not applied: %d", resp.StatusCode)
	}
	if got := s.Requests() - before; got != 2 {
		t.Errorf("Requests counted %d, want 2", got)
	}
}

// BenchmarkPlexPage measures one page deep into a large listing, the cost
// the benchmarks pay per request.
func BenchmarkPlexPage(b *testing.B) {
	cat := Generate(GenerateOptions{Items: 200_000, Seed: 1})
	s, err := NewPlex(cat, Options{Watches: GenerateWatches(cat, 2, time.Time{})})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/library/sections/2/all?type=4&includeGuids=1&X-Plex-Container-Start=150000&X-Plex-Container-Size=500", nil)
	req.Header.Set("X-Plex-Token", s.Token())
	req.Header.Set("Accept", "application/json")
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
