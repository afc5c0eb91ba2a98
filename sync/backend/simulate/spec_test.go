package simulate_test

// Spec conformance: the simulated servers' answers, checked against the
// servers' official OpenAPI specs (../shared/reference/specs beside the
// repository, see ../shared/reference/PROVENANCE.md). Each server gets
// real HTTP requests, with its real auth, on the endpoints Playmark uses,
// and every JSON answer is validated against the schema the spec gives for
// that path, method and status (openapi_test.go).
//
// A mismatch fails the test unless it is listed in knownDeviations, with
// the reason. Properties a server sends that the spec does not declare are
// errors for Jellyfin and Emby, whose specs are generated from the
// servers' DTO classes (so an undeclared property is one the real server
// never sends), and only logged for Plex, whose spec was scraped from the
// developer site and is incomplete: it leaves out attributes real servers
// send (a section's uuid; the /:/timeline answer's playbackState,
// viewOffset... recorded in fixtures/plex-api.rs/timeline/timeline.json),
// and its mediaContainer schema wraps a second MediaContainer, so even
// /library/sections/all's size looks undeclared.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"playmark/sync/backend"
	"playmark/sync/backend/simulate"
)

// knownDeviations are the places where a simulator and its server's spec
// knowingly disagree, keyed "Server METHOD /spec/template json.path" (array
// indices written []; "(body)" is the whole body, "(status)" the status;
// "*" matches any run of characters), each with the reason. Keep it short
// and honest: every entry was checked against the schema (and, where one
// exists, a recorded real response), and was reported to the lead. An
// entry that no longer occurs fails the test, so that it goes once the
// simulator (or the spec) is fixed.
var knownDeviations = map[string]string{
	// Spec bugs (the simulator is right).
	"Plex GET /library/* MediaContainer.Metadata[].Guid[].id": "spec bug: the spec types Guid[] as the generic tag, whose id " +
		"is an integer tag id, but PMS sends the external id string there (\"imdb://tt0096895\" in the recorded " +
		"fixtures/plex-api.rs/timeline/metadata_182_1.json, and in the library captures of watchstate/plex_data.json); API-NOTES §2.4.",
}

// knownDeviation returns the knownDeviations entry that covers key.
func knownDeviation(key string) (string, bool) {
	if _, ok := knownDeviations[key]; ok {
		return key, true
	}
	for _, pat := range slices.Sorted(maps.Keys(knownDeviations)) {
		if strings.Contains(pat, "*") && specGlob(pat).MatchString(key) {
			return pat, true
		}
	}
	return "", false
}

func specGlob(pat string) *regexp.Regexp {
	parts := strings.Split(pat, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// The spec files (../shared/reference/PROVENANCE.md, beside this repository), by server.
var specFiles = map[string]string{
	"Jellyfin": "jellyfin-openapi-stable-10.11.8.json",
	"Emby":     "emby-openapi-v3-4.8.11-official.json",
	"Plex":     "plex-pms-official-openapi-1.2.2.json",
}

// specsDir finds ../shared/reference/specs beside the repository root (the
// directory holding go.mod, found by walking up from the package
// directory, which is where go test runs), or skips the test saying where
// it looked.
func specsDir(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Skipf("OpenAPI specs folder not found: cannot read the working directory (%v), so ../shared/reference/specs beside the repo root could not be located", err)
	}
	root := ""
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if root == "" {
		t.Skipf("OpenAPI specs folder not found: no go.mod in %s or above it, so ../shared/reference/specs beside the repo root could not be located; spec conformance NOT checked", wd)
	}
	dir := filepath.Clean(filepath.Join(root, "..", "shared", "reference", "specs"))
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("OpenAPI specs folder not found: looked for %s (../shared/reference/specs beside the repo root %s); spec conformance NOT checked", dir, root)
	}
	return dir
}

var specCache struct {
	sync.Mutex
	specs map[string]*oaSpec
}

// loadSpecs parses the three specs once per test binary. A folder that is
// there but lacks a spec fails: that is a broken checkout, not a machine
// without the specs.
func loadSpecs(t *testing.T) map[string]*oaSpec {
	t.Helper()
	dir := specsDir(t)
	specCache.Lock()
	defer specCache.Unlock()
	if specCache.specs != nil {
		return specCache.specs
	}
	specs := map[string]*oaSpec{}
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for server, file := range specFiles {
		wg.Go(func() {
			s, err := oaLoad(filepath.Join(dir, file))
			mu.Lock()
			defer mu.Unlock()
			specs[server], errs[server] = s, err
		})
	}
	wg.Wait()
	for server, err := range errs {
		if err != nil {
			t.Fatalf("the specs folder %s is there but the %s spec is not usable: %v", dir, server, err)
		}
	}
	specCache.specs = specs
	return specs
}

// --- One server's checks ---------------------------------------------------

// specReq is one request and how to check its answer.
type specReq struct {
	method string
	path   string // path and query
	body   any    // JSON request body, or nil
	header http.Header
	noAuth bool
	want   int // the status the test expects
	// specPath is the spec's template to check against when the request
	// path is an alias the spec spells differently ("" = find it).
	specPath string
	// specMethod is the spec's method when the client uses another verb
	// that the server also accepts (Plex: GET for PUT /:/scrobble).
	specMethod string
	// schema replaces the spec's when the spec does not have the route
	// at all (Emby's legacy GET /Users); note says why.
	schema any
	note   string
}

// specFinding is one kind of issue at one place, with how often it came.
type specFinding struct {
	example string
	count   int
}

type specCheck struct {
	t      *testing.T
	server string
	spec   *oaSpec
	base   string
	auth   http.Header
	// undeclaredIsError: properties the spec does not declare (without
	// additionalProperties) are errors, else only logged.
	undeclaredIsError bool

	ops        map[string]int // "GET /Items" -> requests validated
	requests   int
	errors     map[string]*specFinding
	known      map[string]*specFinding
	undeclared map[string]*specFinding
}

func newSpecCheck(t *testing.T, server string, spec *oaSpec, base string, auth http.Header, undeclaredIsError bool) *specCheck {
	return &specCheck{
		t: t, server: server, spec: spec, base: base, auth: auth, undeclaredIsError: undeclaredIsError,
		ops: map[string]int{}, errors: map[string]*specFinding{}, known: map[string]*specFinding{}, undeclared: map[string]*specFinding{},
	}
}

var specIndex = regexp.MustCompile(`\[\d+\]`)

// note files one issue of a request under its deviation key.
func (c *specCheck) note(method, tmpl, reqPath string, is oaIssue) {
	where := is.Path
	if where == "" {
		where = "(body)"
	}
	key := fmt.Sprintf("%s %s %s %s", c.server, strings.ToUpper(method), tmpl, specIndex.ReplaceAllString(where, "[]"))
	example := fmt.Sprintf("%s %s: %s", method, reqPath, is)
	bucket := c.errors
	if pat, ok := knownDeviation(key); ok {
		bucket, key = c.known, pat
	} else if is.Kind == oaUndeclared && !c.undeclaredIsError {
		bucket = c.undeclared
	}
	if f := bucket[key]; f != nil {
		f.count++
	} else {
		bucket[key] = &specFinding{example, 1}
	}
}

// do sends r and validates the answer; it returns the decoded JSON body
// (nil when there is none) and the headers.
func (c *specCheck) do(r specReq) (any, http.Header) {
	t := c.t
	t.Helper()
	reqPath, _, _ := strings.Cut(r.path, "?")
	method := r.method
	specMethod := r.specMethod
	if specMethod == "" {
		specMethod = method
	}
	tmpl := r.specPath
	var op map[string]any
	if r.schema == nil {
		if tmpl == "" {
			var ok bool
			if tmpl, ok = c.spec.template(reqPath); !ok {
				t.Errorf("%s: %s %s: no path of %s matches", c.server, method, reqPath, c.spec.name)
				return nil, nil
			}
		}
		var err error
		if op, err = c.spec.operation(specMethod, tmpl); err != nil {
			t.Errorf("%s: %s %s: %v", c.server, method, r.path, err)
			return nil, nil
		}
	} else {
		tmpl = reqPath + " (not in spec)"
		t.Logf("%s %s %s: %s", c.server, method, reqPath, r.note)
	}

	var body io.Reader
	if r.body != nil {
		raw, err := json.Marshal(r.body)
		if err != nil {
			t.Fatal(err)
		}
		// The test's own requests must fit the spec too, or the check
		// proves little.
		if op != nil {
			if sch, ok, err := c.spec.requestSchema(op); err != nil {
				t.Errorf("%s %s: request body schema: %v", method, tmpl, err)
			} else if ok {
				for _, is := range c.spec.Validate(sch, specDecode(t, raw)) {
					t.Errorf("%s %s: the test's request body breaks the spec: %s", method, r.path, is)
				}
			}
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if !r.noAuth {
		for k, v := range c.auth {
			req.Header[k] = v
		}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := specClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, r.path, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, r.path, err)
	}
	c.requests++
	if resp.StatusCode != r.want {
		t.Errorf("%s %s: status %d, the test expects %d (body %.200q)", method, r.path, resp.StatusCode, r.want, raw)
		return nil, resp.Header
	}
	c.ops[strings.ToUpper(specMethod)+" "+tmpl]++

	var schema any
	var jsonBody, emptyOnly bool
	if op != nil {
		doc, ok, err := c.spec.response(op, resp.StatusCode)
		switch {
		case err != nil:
			t.Errorf("%s %s: %v", method, tmpl, err)
			return nil, resp.Header
		case !ok:
			c.note(specMethod, tmpl, r.path, oaIssue{"(status)", oaMismatch, fmt.Sprintf("status %d is not documented (documented: %v)", resp.StatusCode, documentedStatuses(op))})
			return nil, resp.Header
		}
		c.checkHeaders(specMethod, tmpl, r.path, doc.headers, resp.Header)
		schema, _, jsonBody = oaJSONSchema(doc.content)
		emptyOnly = doc.content == nil && resp.StatusCode/100 == 2
	} else {
		schema, jsonBody = r.schema, true
	}
	switch {
	case jsonBody:
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
			c.note(specMethod, tmpl, r.path, oaIssue{"(body)", oaMismatch, fmt.Sprintf("the spec documents a JSON body, got Content-Type %q", ct)})
			return nil, resp.Header
		}
		v, err := specTryDecode(raw)
		if err != nil {
			c.note(specMethod, tmpl, r.path, oaIssue{"(body)", oaMismatch, "not JSON: " + err.Error()})
			return nil, resp.Header
		}
		for _, is := range c.spec.Validate(schema, v) {
			c.note(specMethod, tmpl, r.path, is)
		}
		return v, resp.Header
	case emptyOnly:
		if len(bytes.TrimSpace(raw)) > 0 {
			c.note(specMethod, tmpl, r.path, oaIssue{"(body)", oaMismatch, fmt.Sprintf("the spec documents no body for %d, got %d bytes", resp.StatusCode, len(raw))})
		}
	}
	// Otherwise the spec documents a body that is not JSON (Plex's
	// text/html answers) or none for an error: only the status counts.
	return nil, resp.Header
}

// checkHeaders validates the documented response headers that are present.
func (c *specCheck) checkHeaders(method, tmpl, reqPath string, doc map[string]any, got http.Header) {
	for name, raw := range doc {
		v := got.Get(name)
		if v == "" {
			continue
		}
		h, err := c.spec.deref(raw)
		if err != nil {
			continue
		}
		sch, ok := h["schema"]
		if !ok {
			continue
		}
		var val any = v
		if m, _ := sch.(map[string]any); m != nil && slices.ContainsFunc(oaTypes(m["type"]), func(t string) bool { return t == "integer" || t == "number" }) {
			if _, err := strconv.ParseFloat(v, 64); err == nil {
				val = json.Number(v)
			}
		}
		for _, is := range c.spec.Validate(sch, val) {
			is.Path = "(header " + name + ")"
			c.note(method, tmpl, reqPath, is)
		}
	}
}

// finish reports what the server's checks found.
func (c *specCheck) finish() {
	t := c.t
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(c.errors)) {
		f := c.errors[k]
		t.Errorf("spec mismatch [%s] (%d×), e.g. %s", k, f.count, f.example)
	}
	for _, k := range slices.Sorted(maps.Keys(c.known)) {
		f := c.known[k]
		t.Logf("known deviation [%s] (%d×): %s\n    e.g. %s", k, f.count, knownDeviations[k], f.example)
	}
	if len(c.undeclared) > 0 {
		var lines []string
		for _, k := range slices.Sorted(maps.Keys(c.undeclared)) {
			lines = append(lines, fmt.Sprintf("  %s (%d×)", k, c.undeclared[k].count))
		}
		t.Logf("%s sends %d properties its spec does not declare (logged only: the spec is incomplete):\n%s", c.server, len(lines), strings.Join(lines, "\n"))
	}
	for _, k := range slices.Sorted(maps.Keys(knownDeviations)) {
		if strings.HasPrefix(k, c.server+" ") && c.known[k] == nil && !t.Failed() {
			t.Errorf("known deviation [%s] no longer occurs: remove it from knownDeviations", k)
		}
	}
	var ops []string
	for _, op := range slices.Sorted(maps.Keys(c.ops)) {
		ops = append(ops, fmt.Sprintf("  %s (%d)", op, c.ops[op]))
	}
	t.Logf("%s: %d requests, %d operations validated against %s:\n%s", c.server, c.requests, len(c.ops), filepath.Base(c.spec.name), strings.Join(ops, "\n"))
}

var specClient = &http.Client{Timeout: 20 * time.Second}

func specTryDecode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func specDecode(t *testing.T, raw []byte) any {
	t.Helper()
	v, err := specTryDecode(raw)
	if err != nil {
		t.Fatalf("decoding %.200q: %v", raw, err)
	}
	return v
}

// jpath reads a value out of decoded JSON: keys for objects, ints for
// arrays; nil when absent.
func jpath(v any, steps ...any) any {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k < 0 || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func jstr(v any, steps ...any) string {
	s, _ := jpath(v, steps...).(string)
	return s
}

func jint(v any, steps ...any) int64 {
	n, _ := jpath(v, steps...).(json.Number)
	i, _ := n.Int64()
	return i
}

func jlist(v any, steps ...any) []any {
	a, _ := jpath(v, steps...).([]any)
	return a
}

// --- The catalog -------------------------------------------------------------

// specPicks are catalog items of each kind the checks need.
type specPicks struct {
	playedMovie, unplayedMovie, progress, noIDs, episode, playedEpisode, legacy string
}

func specCatalog(t *testing.T) (*simulate.Catalog, map[string]simulate.Watch, specPicks) {
	t.Helper()
	cat := simulate.Generate(simulate.GenerateOptions{Items: 120, Seed: 3})
	watches := simulate.GenerateWatches(cat, 3, time.Time{})
	var p specPicks
	first := func(dst *string, k string, ok bool) {
		if *dst == "" && ok {
			*dst = k
		}
	}
	for _, m := range cat.Media {
		w, watched := watches[m.Key]
		movie := m.Type == backend.Movie
		first(&p.playedMovie, m.Key, movie && w.Played && len(m.GUIDs) > 0)
		first(&p.unplayedMovie, m.Key, movie && !watched && len(m.GUIDs) > 0 && !m.LegacyPlex)
		first(&p.progress, m.Key, w.Position > 0)
		first(&p.noIDs, m.Key, len(m.GUIDs) == 0)
		first(&p.episode, m.Key, !movie && !watched)
		first(&p.playedEpisode, m.Key, !movie && w.Played)
		first(&p.legacy, m.Key, m.LegacyPlex)
	}
	for name, k := range map[string]string{"played movie": p.playedMovie, "unplayed movie": p.unplayedMovie, "item with progress": p.progress,
		"item without ids": p.noIDs, "unwatched episode": p.episode, "played episode": p.playedEpisode, "legacy Plex item": p.legacy} {
		if k == "" {
			t.Fatalf("the generated catalog has no %s: pick another seed", name)
		}
	}
	return cat, watches, p
}

// specCoverage checks that a listing validated items of every kind.
func specCoverage(t *testing.T, server string, seen map[string]int) {
	t.Helper()
	for _, k := range []string{"movie", "episode", "played", "progress", "no ids"} {
		if seen[k] == 0 {
			t.Errorf("%s: the validated listings had no %s item", server, k)
		}
	}
	t.Logf("%s listings validated: %v", server, seen)
}

// --- The test ------------------------------------------------------------------

func TestSpecConformance(t *testing.T) {
	specs := loadSpecs(t)
	cat, watches, picks := specCatalog(t)
	t.Run("Jellyfin", func(t *testing.T) {
		t.Parallel()
		srv, err := simulate.NewJellyfin(cat, simulate.Options{Watches: watches})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		specJellyfin(t, specs["Jellyfin"], srv, picks)
	})
	t.Run("Emby", func(t *testing.T) {
		t.Parallel()
		srv, err := simulate.NewEmby(cat, simulate.Options{Watches: watches})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		specEmby(t, specs["Emby"], srv, picks)
	})
	t.Run("Plex", func(t *testing.T) {
		t.Parallel()
		srv, err := simulate.NewPlex(cat, simulate.Options{Watches: watches})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		specPlex(t, specs["Plex"], srv, picks)
	})
}

const specUnknownGUID = "0123456789abcdef0123456789abcdef"

// mbListing pages through a Jellyfin/Emby Items route (StartIndex/Limit),
// validating each page, and tallies what kinds of items it saw.
func mbListing(c *specCheck, path string, size int, seen map[string]int) []any {
	var all []any
	for start := 0; ; start += size {
		body, _ := c.do(specReq{method: "GET", path: fmt.Sprintf("%s&StartIndex=%d&Limit=%d", path, start, size), want: 200})
		items := jlist(body, "Items")
		all = append(all, items...)
		for _, it := range items {
			switch jstr(it, "Type") {
			case "Movie":
				seen["movie"]++
			case "Episode":
				seen["episode"]++
			}
			if jpath(it, "UserData", "Played") == true {
				seen["played"]++
			}
			if jint(it, "UserData", "PlaybackPositionTicks") > 0 {
				seen["progress"]++
			}
			if ids, ok := jpath(it, "ProviderIds").(map[string]any); ok && len(ids) == 0 {
				seen["no ids"]++
			}
		}
		if len(items) == 0 || int64(start+size) >= jint(body, "TotalRecordCount") {
			return all
		}
	}
}

func mbViewID(c *specCheck, views any, collection string) string {
	for _, v := range jlist(views, "Items") {
		if jstr(v, "CollectionType") == collection {
			return jstr(v, "Id")
		}
	}
	c.t.Fatalf("%s: no %s view in %v", c.server, collection, views)
	return ""
}

func specJellyfin(t *testing.T, spec *oaSpec, srv *simulate.MediaBrowserServer, p specPicks) {
	auth := http.Header{"Authorization": {fmt.Sprintf(`MediaBrowser Client="playmark-spec-test", Device="test", DeviceId="spec", Version="1.0", Token="%s"`, srv.Token())}}
	c := newSpecCheck(t, "Jellyfin", spec, srv.URL(), auth, true)
	defer c.finish()
	uid := srv.UserID()
	u := "userId=" + uid
	get := func(path string, want int) any {
		b, _ := c.do(specReq{method: "GET", path: path, want: want})
		return b
	}

	c.do(specReq{method: "GET", path: "/System/Info/Public", noAuth: true, want: 200})
	get("/System/Info", 200)
	c.do(specReq{method: "GET", path: "/System/Info", noAuth: true, want: 401})
	get("/Users", 200)
	get("/Users/"+uid, 200)
	get("/Users/Me", 200)
	get("/Users/"+specUnknownGUID, 404)
	apiKey := http.Header{"Authorization": {fmt.Sprintf(`MediaBrowser Client="playmark-spec-test", Device="test", DeviceId="spec", Version="1.0", Token="%s"`, srv.APIKey())}}
	c.do(specReq{method: "GET", path: "/Users/Me", header: apiKey, want: 400}) // an API key has no user

	views := get("/UserViews?"+u, 200)
	seen := map[string]int{}
	items := mbListing(c, "/Items?"+u+"&Recursive=true&IncludeItemTypes=Movie,Episode&Fields=ProviderIds,Path,DateCreated&EnableUserData=true", 50, seen)
	specCoverage(t, "Jellyfin", seen)
	// Playmark's own listings (mediabrowser.lister): per library, by date
	// added, and the played ones newest first.
	lib := "&Recursive=true&Fields=ProviderIds,DateCreated,Path&EnableUserData=true&EnableImages=false&EnableTotalRecordCount=true"
	mbListing(c, "/Items?"+u+"&ParentId="+mbViewID(c, views, "movies")+"&IncludeItemTypes=Movie"+lib+"&SortBy=DateCreated,SortName&SortOrder=Ascending", 10, map[string]int{})
	mbListing(c, "/Items?"+u+"&ParentId="+mbViewID(c, views, "tvshows")+"&IncludeItemTypes=Episode"+lib+"&IsPlayed=true&SortBy=DatePlayed,SortName&SortOrder=Descending", 25, map[string]int{})

	ids := []string{srv.RemoteID(p.playedMovie), srv.RemoteID(p.progress), srv.RemoteID(p.noIDs), srv.RemoteID(p.playedEpisode)}
	get("/Items?"+u+"&Ids="+strings.Join(ids, ",")+"&Fields=ProviderIds,DateCreated,Path&EnableUserData=true&EnableImages=false", 200)
	var series []string
	for _, it := range items {
		if s := jstr(it, "SeriesId"); s != "" && !slices.Contains(series, s) {
			series = append(series, s)
		}
	}
	get("/Items?"+u+"&Ids="+strings.Join(series, ",")+"&Fields=ProviderIds&EnableUserData=false&EnableImages=false", 200)
	get("/Items/"+srv.RemoteID(p.playedEpisode)+"?"+u, 200)

	// Writes: mark played (with a date, both layouts), unplayed, and the
	// user data of an item (position only, as Playmark sends, and every
	// field), then read it back.
	movie := srv.RemoteID(p.unplayedMovie)
	c.do(specReq{method: "POST", path: "/UserPlayedItems/" + movie + "?" + u + "&datePlayed=20250102030405", want: 200})
	c.do(specReq{method: "POST", path: "/UserPlayedItems/" + movie + "?" + u + "&datePlayed=" + url.QueryEscape("2025-01-02T03:04:05Z"), want: 200})
	c.do(specReq{method: "DELETE", path: "/UserPlayedItems/" + movie + "?" + u, want: 200})
	ep := srv.RemoteID(p.episode)
	c.do(specReq{method: "POST", path: "/UserItems/" + ep + "/UserData?" + u, body: map[string]any{"PlaybackPositionTicks": 6_000_000_000}, want: 200})
	c.do(specReq{method: "POST", path: "/UserItems/" + ep + "/UserData?" + u,
		body: map[string]any{"PlaybackPositionTicks": 0, "LastPlayedDate": "2024-05-01T20:00:00Z", "Played": true, "PlayCount": 3}, want: 200})
	get("/UserItems/"+ep+"/UserData?"+u, 200)
	c.do(specReq{method: "POST", path: "/UserPlayedItems/" + specUnknownGUID + "?" + u, want: 404})
	c.do(specReq{method: "POST", path: "/UserItems/" + specUnknownGUID + "/UserData?" + u, body: map[string]any{"PlaybackPositionTicks": 1}, want: 404})
}

func specEmby(t *testing.T, spec *oaSpec, srv *simulate.MediaBrowserServer, p specPicks) {
	c := newSpecCheck(t, "Emby", spec, srv.URL(), http.Header{"X-Emby-Token": {srv.Token()}}, true)
	defer c.finish()
	uid := srv.UserID()
	up := "/Users/" + uid
	get := func(path string, want int) any {
		b, _ := c.do(specReq{method: "GET", path: path, want: want})
		return b
	}

	c.do(specReq{method: "GET", path: "/System/Info/Public", noAuth: true, want: 200})
	get("/System/Info", 200)
	c.do(specReq{method: "GET", path: "/System/Info", noAuth: true, want: 401})
	get("/Users/Query", 200)
	// GET /Users is gone from the 4.8.11 spec (the 4.1 spec has it, and
	// watchstate and Playmark still fall back to it); its answer is the
	// array of UserDto that /Users/Query wraps, so it is checked against
	// the 4.8.11 UserDto.
	c.do(specReq{method: "GET", path: "/Users", want: 200,
		schema: map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/UserDto"}},
		note:   "not in the 4.8.11 spec; checked as an array of its UserDto"})
	get(up, 200)

	views := get(up+"/Views", 200)
	seen := map[string]int{}
	mbListing(c, up+"/Items?Recursive=true&IncludeItemTypes=Movie,Episode&Fields=ProviderIds,Path,DateCreated&EnableUserData=true", 50, seen)
	specCoverage(t, "Emby", seen)
	lib := "&Recursive=true&Fields=ProviderIds,DateCreated,Path&EnableUserData=true&EnableImages=false&EnableTotalRecordCount=true"
	mbListing(c, up+"/Items?ParentId="+mbViewID(c, views, "movies")+"&IncludeItemTypes=Movie"+lib+"&SortBy=DateCreated,SortName&SortOrder=Ascending", 10, map[string]int{})
	mbListing(c, up+"/Items?ParentId="+mbViewID(c, views, "tvshows")+"&IncludeItemTypes=Episode"+lib+"&IsPlayed=true&SortBy=DatePlayed,SortName&SortOrder=Descending", 25, map[string]int{})
	ids := []string{srv.RemoteID(p.playedMovie), srv.RemoteID(p.progress), srv.RemoteID(p.noIDs), srv.RemoteID(p.playedEpisode)}
	get(up+"/Items?Ids="+strings.Join(ids, ",")+"&Fields=ProviderIds,DateCreated,Path&EnableUserData=true&EnableImages=false", 200)
	get(up+"/Items?AnyProviderIdEquals=imdb.tt0100000,tmdb.500001&Recursive=true&Fields=ProviderIds&EnableUserData=true", 200)
	get(up+"/Items/"+srv.RemoteID(p.playedEpisode), 200)

	movie := srv.RemoteID(p.unplayedMovie)
	c.do(specReq{method: "POST", path: up + "/PlayedItems/" + movie + "?DatePlayed=20250102030405", want: 200})
	c.do(specReq{method: "DELETE", path: up + "/PlayedItems/" + movie, want: 200})
	c.do(specReq{method: "POST", path: up + "/PlayedItems/" + movie + "?DatePlayed=20250102030405", want: 200})
	c.do(specReq{method: "POST", path: up + "/PlayedItems/" + movie + "/Delete", want: 200})
	ep := srv.RemoteID(p.episode)
	c.do(specReq{method: "POST", path: up + "/Items/" + ep + "/UserData", body: map[string]any{"PlaybackPositionTicks": 6_000_000_000}, want: 200})
	c.do(specReq{method: "POST", path: up + "/PlayedItems/99999999", want: 404})
}

const plexIdent = "com.plexapp.plugins.library"

func specPlex(t *testing.T, spec *oaSpec, srv *simulate.PlexServer, p specPicks) {
	auth := http.Header{
		"X-Plex-Token":             {srv.Token()},
		"Accept":                   {"application/json"},
		"X-Plex-Client-Identifier": {"playmark-spec-test"},
		"X-Plex-Product":           {"Playmark"},
	}
	c := newSpecCheck(t, "Plex", spec, srv.URL(), auth, false)
	defer c.finish()
	get := func(path string) any {
		b, _ := c.do(specReq{method: "GET", path: path, want: 200})
		return b
	}

	c.do(specReq{method: "GET", path: "/identity", noAuth: true, header: http.Header{"Accept": {"application/json"}}, want: 200})
	get("/")
	// Clients ask /library/sections; the spec documents the same answer
	// as /library/sections/all.
	c.do(specReq{method: "GET", path: "/library/sections", specPath: "/library/sections/all", want: 200})
	sections := get("/library/sections/all")
	secOf := func(typ string) string {
		for _, d := range jlist(sections, "MediaContainer", "Directory") {
			if jstr(d, "type") == typ {
				return jstr(d, "key")
			}
		}
		t.Fatalf("no %s section", typ)
		return ""
	}

	seen := map[string]int{}
	plexListing(c, "/library/sections/"+secOf("movie")+"/all?type=1&includeGuids=1&sort=addedAt", 10, seen)
	plexListing(c, "/library/sections/"+secOf("show")+"/all?type=4&includeGuids=1&sort=episode.addedAt", 40, seen)
	specCoverage(t, "Plex", seen)

	for _, k := range []string{p.playedMovie, p.progress, p.noIDs, p.playedEpisode, p.legacy} {
		get("/library/metadata/" + srv.RemoteID(k))
	}
	get("/library/metadata/" + srv.RemoteID(p.playedMovie) + "," + srv.RemoteID(p.episode))

	// Writes. The spec documents PUT for (un)scrobble and POST for the
	// timeline; PMS also answers GET, which is what Playmark (like
	// python-plexapi and watchstate) sends, so both are checked against
	// the documented operation.
	movie := srv.RemoteID(p.unplayedMovie)
	q := "?identifier=" + plexIdent + "&key=" + movie
	for _, m := range []string{"PUT", "GET"} {
		c.do(specReq{method: m, path: "/:/scrobble" + q, specMethod: "PUT", want: 200})
		c.do(specReq{method: m, path: "/:/unscrobble" + q, specMethod: "PUT", want: 200})
	}
	c.do(specReq{method: "PUT", path: "/:/scrobble" + q, want: 200})
	get("/library/metadata/" + movie) // now with viewCount and lastViewedAt
	c.do(specReq{method: "PUT", path: "/:/scrobble?identifier=" + plexIdent + "&key=999999", want: 404})
	c.do(specReq{method: "PUT", path: "/:/scrobble?key=" + movie, want: 400})

	ep := srv.RemoteID(p.episode)
	tl := "/:/timeline?ratingKey=" + ep + "&key=" + url.QueryEscape("/library/metadata/"+ep) + "&identifier=" + plexIdent + "&state=stopped&time=120000&duration=2400000"
	for _, m := range []string{"POST", "GET"} {
		c.do(specReq{method: m, path: tl, specMethod: "POST", want: 200})
	}
	get("/library/metadata/" + ep) // now with viewOffset
}

// plexListing pages through a section listing with the X-Plex-Container
// headers, validating each page and its paging headers.
func plexListing(c *specCheck, path string, size int, seen map[string]int) {
	t := c.t
	for start := 0; ; start += size {
		h := http.Header{"X-Plex-Container-Start": {strconv.Itoa(start)}, "X-Plex-Container-Size": {strconv.Itoa(size)}}
		body, hdr := c.do(specReq{method: "GET", path: path, header: h, want: 200})
		mc := jpath(body, "MediaContainer")
		// "Provided on all MediaContainer objects" (the spec's headers).
		for name, want := range map[string]int64{"X-Plex-Container-Start": jint(mc, "offset"), "X-Plex-Container-Total-Size": jint(mc, "totalSize")} {
			if got := hdr.Get(name); got != strconv.FormatInt(want, 10) {
				t.Errorf("GET %s from %d: header %s = %q, the body says %d", path, start, name, got, want)
			}
		}
		items := jlist(mc, "Metadata")
		for _, it := range items {
			switch jstr(it, "type") {
			case "movie":
				seen["movie"]++
			case "episode":
				seen["episode"]++
			}
			if jint(it, "viewCount") > 0 {
				seen["played"]++
			}
			if jint(it, "viewOffset") > 0 {
				seen["progress"]++
			}
			if strings.HasPrefix(jstr(it, "guid"), "local://") {
				seen["no ids"]++
			}
		}
		if len(items) == 0 || int64(start+size) >= jint(mc, "totalSize") {
			return
		}
	}
}

// TestSpecCatchesBrokenBodies shows that the conformance check can fail on
// the real specs: real simulator answers, deliberately broken, must give
// the expected findings.
func TestSpecCatchesBrokenBodies(t *testing.T) {
	specs := loadSpecs(t)
	cat, watches, picks := specCatalog(t)
	srv, err := simulate.NewJellyfin(cat, simulate.Options{Watches: watches})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	jf := specs["Jellyfin"]
	op, err := jf.operation("GET", "/Items")
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := jf.response(op, 200)
	schema, _, _ := oaJSONSchema(doc.content)

	req, _ := http.NewRequest("GET", srv.URL()+"/Items?userId="+srv.UserID()+"&Ids="+srv.RemoteID(picks.playedMovie)+"&Fields=ProviderIds&EnableUserData=true", nil)
	req.Header.Set("Authorization", `MediaBrowser Token="`+srv.Token()+`"`)
	resp, err := specClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := specDecode(t, raw)
	if is := jf.Validate(schema, body); len(is) > 0 {
		t.Fatalf("the unbroken body should pass: %v", is)
	}
	item := jpath(body, "Items", 0).(map[string]any)
	ud := item["UserData"].(map[string]any)
	ud["LastPlayedDate"] = json.Number("1700000000")
	ud["Played"] = "yes"
	item["Type"] = "Film"
	item["RunTimeTicks"] = json.Number("1.5")
	item["DateCreated"] = "yesterday"
	item["Bogus"] = true
	delete(body.(map[string]any), "TotalRecordCount")
	got := map[string]bool{}
	for _, is := range jf.Validate(schema, body) {
		got[is.String()] = true
	}
	for _, want := range []string{
		"Items[0].UserData.LastPlayedDate: want string (date-time), got number 1700000000",
		"Items[0].UserData.Played: want boolean, got string \"yes\"",
		"Items[0].RunTimeTicks: want integer (int64), got number 1.5",
		"Items[0].DateCreated: string \"yesterday\" is not an RFC 3339 date-time",
		"Items[0].Bogus: property not declared by the schema (additionalProperties: false)",
	} {
		if !got[want] {
			t.Errorf("missing finding %q; got %v", want, got)
		}
	}
	if !slices.ContainsFunc(slices.Collect(maps.Keys(got)), func(s string) bool { return strings.HasPrefix(s, "Items[0].Type: ") && strings.Contains(s, `"Film"`) }) {
		t.Errorf("the bad enum value Type=Film was not caught: %v", got)
	}
	// TotalRecordCount is not required by the spec: removing it is fine.
	for s := range got {
		if strings.Contains(s, "TotalRecordCount") {
			t.Errorf("unexpected finding %s", s)
		}
	}
}
