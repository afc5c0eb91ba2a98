package backend

import "strings"

// ValidItemID says whether id can be a server's item id: 1-64 characters
// from [A-Za-z0-9._-]. Ids from outside (webhooks, notifications) go into
// request paths, so anything else is refused.
func ValidItemID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NormalizeID writes a Jellyfin/Emby GUID id as their clients do: lower
// case, no dashes. Other strings are only trimmed and lower-cased.
func NormalizeID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 36 && strings.Count(s, "-") == 4 {
		s = strings.ReplaceAll(s, "-", "")
	}
	return s
}

// CanonicalID writes an external id value of kind as every client stores
// it, so that the same id from Plex, Jellyfin and Emby compares equal:
// IMDb ids as "tt" and at least seven digits (the prefix may be missing,
// short ids are zero-padded); every other kind (TMDB, TVDB, TVmaze,
// TVRage, AniDB) a positive decimal number without leading zeros.
// Anything else is not an id (ok false).
func CanonicalID(kind, value string) (string, bool) {
	v := strings.TrimSpace(value)
	if kind == "imdb" {
		if len(v) > 2 && strings.EqualFold(v[:2], "tt") {
			v = v[2:]
		}
		if !allDigits(v) || strings.Trim(v, "0") == "" {
			return "", false
		}
		if len(v) < 7 {
			v = strings.Repeat("0", 7-len(v)) + v
		}
		return "tt" + v, true
	}
	if !allDigits(v) {
		return "", false
	}
	v = strings.TrimLeft(v, "0")
	return v, v != ""
}

// allDigits says whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
