package plex

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"playmark/sync/backend"
)

// A listing page in the shape PMS writes (hand-written, after the
// recorded captures): keys sorted with Metadata first, so the paging
// fields come after the elements; ids and numbers in both spellings.
const listingPage = `{"MediaContainer":{"Metadata":[
 {"ratingKey":"5","key":"/library/metadata/5","type":"episode","guid":"plex://episode/5000",
  "grandparentTitle":"Ferengi StandUp","grandparentRatingKey":"3","parentIndex":1,"index":2,
  "Guid":[{"id":"imdb://tt0000004"},{"id":"tmdb://4"},{"id":"tvdb://4"}],
  "Role":[{"tag":"Someone"}],"Media":[{"duration":2654912,"Part":[{"file":"/tv/S01E02.mkv","size":1}]}],
  "viewCount":2,"lastViewedAt":1643805016,"addedAt":1105631952,"updatedAt":1691510335,"duration":2654912},
 {"ratingKey":90,"type":"episode","guid":"com.plexapp.agents.thetvdb://268592/3/7?lang=en",
  "grandparentGuid":"com.plexapp.agents.thetvdb://268592?lang=en","grandparentRatingKey":22,
  "title":"Legacy","addedAt":"1579514088","viewOffset":70000.0,"lastViewedAt":1683736823},
 {"ratingKey":"7","type":"clip","title":"Trailer"}
],"offset":0,"size":3,"totalSize":3,"librarySectionID":2,"title1":"TV Shows","nocache":true}}`

func TestDecodeContainer(t *testing.T) {
	var head wireHead
	var metas []wireMeta
	err := decodeContainer(strings.NewReader(listingPage), &head, func(m *wireMeta) error {
		metas = append(metas, *m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 3 || head.Size == nil || *head.Size != 3 || *head.Offset != 0 || *head.TotalSize != 3 || head.LibrarySectionID != "2" {
		t.Fatalf("head %+v, %d elements", head, len(metas))
	}
	ep, ok := toItem(&metas[0], "2", "")
	want := backend.Item{
		ID: "5", Type: backend.Episode, Library: "2", Path: "/tv/S01E02.mkv",
		ShowID: "3", ShowTitle: "Ferengi StandUp", Season: 1, Episode: 2,
		GUIDs:  []backend.GUID{{Kind: "imdb", Value: "tt0000004"}, {Kind: "tmdb", Value: "4"}, {Kind: "tvdb", Value: "4"}},
		Played: true, PlayCount: 2, LastPlayed: time.Unix(1643805016, 0).UTC(),
		Duration: 2654912 * time.Millisecond, Added: time.Unix(1105631952, 0).UTC(),
	}
	if !ok || !itemsEqual(ep, want) {
		t.Errorf("episode:\n got %+v\nwant %+v", ep, want)
	}
	if ep.LastPlayed.Location() != time.UTC || ep.Added.Location() != time.UTC {
		t.Errorf("times not UTC")
	}
	legacy, ok := toItem(&metas[1], "2", "")
	if !ok || legacy.ID != "90" || legacy.ShowID != "22" || legacy.Season != 3 || legacy.Episode != 7 ||
		len(legacy.GUIDs) != 0 || !slices.Equal(legacy.ShowGUIDs, []backend.GUID{{Kind: "tvdb", Value: "268592"}}) ||
		legacy.Played || legacy.PlayCount != 0 || legacy.Progress != 70*time.Second || legacy.Added.Unix() != 1579514088 {
		t.Errorf("legacy episode: %+v", legacy)
	}
	if _, ok := toItem(&metas[2], "2", ""); ok {
		t.Errorf("a clip became an item")
	}
}

func itemsEqual(a, b backend.Item) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Title == b.Title && a.Year == b.Year && a.Library == b.Library &&
		a.Path == b.Path && a.ShowID == b.ShowID && a.ShowTitle == b.ShowTitle && a.Season == b.Season &&
		a.Episode == b.Episode && slices.Equal(a.ShowGUIDs, b.ShowGUIDs) && slices.Equal(a.GUIDs, b.GUIDs) &&
		a.Played == b.Played && a.PlayCount == b.PlayCount && a.LastPlayed.Equal(b.LastPlayed) &&
		a.Progress == b.Progress && a.Duration == b.Duration && a.Added.Equal(b.Added)
}

func TestToItemLibraryAndFallbacks(t *testing.T) {
	m := wireMeta{RatingKey: "1", Type: "movie", Title: "M", Media: []wireMedia{{Duration: 5000}}}
	if it, _ := toItem(&m, "", "9"); it.Library != "9" || it.Duration != 5*time.Second {
		t.Errorf("container section and media duration: %+v", it)
	}
	m.LibrarySectionID = "4"
	if it, _ := toItem(&m, "", "9"); it.Library != "4" {
		t.Errorf("element section: %q", it.Library)
	}
	if it, _ := toItem(&m, "1", "9"); it.Library != "1" {
		t.Errorf("listed section: %q", it.Library)
	}
	m.RatingKey = ""
	if _, ok := toItem(&m, "1", ""); ok {
		t.Errorf("an element without ratingKey became an item")
	}
}

func TestDecodeContainerErrors(t *testing.T) {
	for name, body := range map[string]string{
		"not json":          `<html><body>nginx</body></html>`,
		"truncated":         `{"MediaContainer":{"size":3,"Metadata":[{"ratingKey":"1"`,
		"no container":      `{"Other":{}}`,
		"array":             `[]`,
		"bad number":        `{"MediaContainer":{"size":"three"}}`,
		"metadata not list": `{"MediaContainer":{"Metadata":{}}}`,
		"bad element":       `{"MediaContainer":{"Metadata":[{"ratingKey":true}]}}`,
	} {
		var head wireHead
		if err := decodeContainer(strings.NewReader(body), &head, func(*wireMeta) error { return nil }); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	stop := errors.New("enough")
	err := decodeContainer(strings.NewReader(listingPage), &wireHead{}, func(*wireMeta) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("callback error: %v", err)
	}
}

func TestFlexInt(t *testing.T) {
	for in, want := range map[string]int64{`12`: 12, `"12"`: 12, `12.7`: 12, `null`: 0, `""`: 0, `-3`: -3, `" 5 "`: 5} {
		var n flexInt
		if err := n.UnmarshalJSON([]byte(in)); err != nil || int64(n) != want {
			t.Errorf("flexInt(%s) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{`true`, `"x"`, `{}`, `1e400`} {
		var n flexInt
		if err := n.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("flexInt(%s) accepted", in)
		}
	}
	for in, want := range map[string]string{`"a"`: "a", `22`: "22", `null`: ""} {
		var s flexString
		if err := s.UnmarshalJSON([]byte(in)); err != nil || string(s) != want {
			t.Errorf("flexString(%s) = %q, %v", in, s, err)
		}
	}
	var s flexString
	if err := s.UnmarshalJSON([]byte(`[1]`)); err == nil {
		t.Errorf("flexString accepted an array")
	}
}
