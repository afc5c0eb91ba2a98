package plex

import (
	"strconv"
	"strings"

	"playmark/sync/backend"
)

// Ref is what one Plex guid string says about the item that carries it.
type Ref struct {
	// GUID is the external id, normalised (backend.GUID's rules).
	GUID backend.GUID
	// Show is true when GUID names the item's show rather than the item
	// itself: the legacy agents write an episode as
	// com.plexapp.agents.thetvdb://<show id>/<season>/<episode> and a
	// season as …/<show id>/<season>.
	Show bool
	// Season and Episode are the numbers from those forms (Show only).
	// Episode is 0 for the season form; Season may be 0 (specials).
	Season, Episode int
}

// maxGUIDLen bounds the work on a hostile string; real guids are short.
const maxGUIDLen = 512

// ParseGUID parses one Plex guid: a Guid[] entry of the new agents
// ("imdb://tt0096895", "tmdb://268", "tvdb://1204") or the top-level guid
// of the legacy agents:
//
//	com.plexapp.agents.imdb://tt1254207?lang=en
//	com.plexapp.agents.themoviedb://268?lang=en
//	com.plexapp.agents.thetvdb://268592/1/1?lang=en   (the show's id, S1E1)
//	com.plexapp.agents.xbmcnfo://tt0111161            (and xbmcnfotv)
//	com.plexapp.agents.hama://anidb-123, …hama://tvdb-456, …hama://tvdb2-456
//
// Kinds are normalised to imdb, tmdb, tvdb, tvmaze, tvrage and anidb;
// imdb values keep their "tt" and numeric values lose leading zeros. It
// returns false for guids that carry no external id (plex://…,
// local://…, com.plexapp.agents.none://…, collection://…), for unknown
// agents and for malformed values. It never panics.
func ParseGUID(s string) (Ref, bool) {
	s = strings.TrimSpace(s)
	if len(s) > maxGUIDLen {
		return Ref{}, false
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Ref{}, false
	}
	agent := strings.ToLower(scheme)
	agent = strings.TrimPrefix(agent, "com.plexapp.agents.")
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimSuffix(rest, "/")
	if agent == "hama" {
		// HAMA writes <source>-<id>, e.g. anidb-123, tvdb2-456.
		source, id, ok := strings.Cut(rest, "-")
		if !ok {
			return Ref{}, false
		}
		agent = hamaSource(strings.ToLower(source))
		rest = id
	}
	segs := strings.Split(rest, "/")
	if len(segs) > 3 {
		return Ref{}, false
	}
	kind, value, ok := normalise(agent, segs[0])
	if !ok {
		return Ref{}, false
	}
	ref := Ref{GUID: backend.GUID{Kind: kind, Value: value}}
	if len(segs) > 1 {
		ref.Show = true
		if ref.Season, ok = number(segs[1]); !ok {
			return Ref{}, false
		}
		if len(segs) == 3 {
			if ref.Episode, ok = number(segs[2]); !ok {
				return Ref{}, false
			}
		}
	}
	return ref, true
}

// hamaSource maps a HAMA id source to an agent name normalise knows.
func hamaSource(source string) string {
	trimmed := strings.TrimRight(source, "0123456789")
	switch trimmed {
	case "anidb", "tvdb", "tmdb", "imdb":
		return trimmed
	case "tsdb": // HAMA's TheMovieDB TV ids
		return "tmdb"
	}
	return ""
}

// normalise maps an agent or guid scheme and its id to a normalised kind
// and value.
func normalise(agent, id string) (kind, value string, ok bool) {
	switch agent {
	case "imdb":
		return imdbValue(id)
	case "tmdb", "themoviedb":
		kind = "tmdb"
	case "tvdb", "thetvdb":
		kind = "tvdb"
	case "tvmaze", "tvrage", "anidb":
		kind = agent
	case "xbmcnfo", "xbmcnfotv":
		// The NFO importers take whatever id the .nfo file holds: an imdb
		// id is recognisable, a bare number is TMDB for movies and TVDB for
		// shows (the scrapers' defaults).
		if strings.HasPrefix(strings.ToLower(id), "tt") {
			return imdbValue(id)
		}
		kind = "tmdb"
		if agent == "xbmcnfotv" {
			kind = "tvdb"
		}
	default:
		return "", "", false
	}
	value, ok = backend.CanonicalID(kind, id)
	return kind, value, ok
}

// imdbValue accepts tt followed by digits, in any case (a Plex guid
// always has the prefix; the value is then written as every client does).
func imdbValue(id string) (kind, value string, ok bool) {
	if len(id) < 3 || !strings.EqualFold(id[:2], "tt") {
		return "", "", false
	}
	value, ok = backend.CanonicalID("imdb", id)
	return "imdb", value, ok
}

// number parses a season or episode number: a small non-negative integer.
func number(s string) (int, bool) {
	if s == "" || len(s) > 6 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// ItemGUIDs is what the guid fields of one Plex metadata element say.
type ItemGUIDs struct {
	// GUIDs are the item's own external ids, without duplicates.
	GUIDs []backend.GUID
	// ShowGUIDs are the ids of the item's show that the element itself
	// reveals: a legacy episode guid (com.plexapp.agents.thetvdb://268592/1/1)
	// or a legacy grandparentGuid. The show's Guid[] needs a request of its
	// own; see Client.Items.
	ShowGUIDs []backend.GUID
	// Season and Episode come from a legacy episode guid, when HasNumbers.
	Season, Episode int
	HasNumbers      bool
}

// ParseItemGUIDs reads the guid fields of one metadata element: guid (the
// top-level string), ids (the Guid[] array, which needs includeGuids=1 in
// listings) and, for episodes, grandparentGuid. Ids Plex cannot vouch for
// (plex://, local://, …agents.none) are ignored.
func ParseItemGUIDs(guid string, ids []string, grandparentGUID string) ItemGUIDs {
	var out ItemGUIDs
	add := func(r Ref) {
		if r.Show {
			out.ShowGUIDs = appendGUID(out.ShowGUIDs, r.GUID)
			return
		}
		out.GUIDs = appendGUID(out.GUIDs, r.GUID)
	}
	for _, id := range ids {
		if r, ok := ParseGUID(id); ok {
			add(r)
		}
	}
	if r, ok := ParseGUID(guid); ok {
		add(r)
		if r.Show && r.Episode > 0 {
			out.Season, out.Episode, out.HasNumbers = r.Season, r.Episode, true
		}
	}
	if r, ok := ParseGUID(grandparentGUID); ok {
		out.ShowGUIDs = appendGUID(out.ShowGUIDs, r.GUID)
	}
	return out
}

func appendGUID(gs []backend.GUID, g backend.GUID) []backend.GUID {
	for _, have := range gs {
		if have == g {
			return gs
		}
	}
	return append(gs, g)
}

// mergeGUIDs appends the GUIDs of b missing from a.
func mergeGUIDs(a, b []backend.GUID) []backend.GUID {
	for _, g := range b {
		a = appendGUID(a, g)
	}
	return a
}
