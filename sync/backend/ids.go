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
