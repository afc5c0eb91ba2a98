package backend

import "testing"

// The same id from any client compares equal: one canonical form.
func TestCanonicalID(t *testing.T) {
	for _, c := range []struct {
		kind, in, want string
		ok             bool
	}{
		{"imdb", "tt0113277", "tt0113277", true},
		{"imdb", "TT0113277", "tt0113277", true},
		{"imdb", "113277", "tt0113277", true},
		{"imdb", " tt113277 ", "tt0113277", true},
		{"imdb", "tt12345678", "tt12345678", true},
		{"imdb", "tt0000000", "", false},
		{"imdb", "ttx1", "", false},
		{"tmdb", "00949", "949", true},
		{"tvdb", "81189", "81189", true},
		{"tvdb", "0", "", false},
		{"tmdb", "-5", "", false},
		{"tmdb", "", "", false},
	} {
		got, ok := CanonicalID(c.kind, c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("CanonicalID(%q, %q) = %q, %v; want %q, %v", c.kind, c.in, got, ok, c.want, c.ok)
		}
	}
}
