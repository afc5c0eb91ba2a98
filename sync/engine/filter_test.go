package engine

import (
	"strconv"
	"testing"
)

func TestIDFilterHasNoFalseNegatives(t *testing.T) {
	f := newIDFilter(0)
	const n = 200000
	for i := range n {
		f.add(guidKey("movie", "imdb", "tt"+strconv.Itoa(i)))
	}
	for i := range n {
		if !f.has(guidKey("movie", "imdb", "tt"+strconv.Itoa(i))) {
			t.Fatalf("key %d was added but is not found", i)
		}
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if f.has(guidKey("movie", "imdb", "tt"+strconv.Itoa(i))) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.02 {
		t.Errorf("false positive rate %.3f, want about 1 %% at this size", rate)
	}
	if f.has(episodeKey("tvdb", "1", 1, 2)) && f.has(episodeKey("tvdb", "1", 2, 1)) && f.has(episodeKey("tvdb", "12", 1, 1)) {
		t.Error("episode keys collide systematically")
	}
}
