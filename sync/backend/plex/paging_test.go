package plex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"playmark/sync/backend"
)

// pager is a movie library server that pages wrongly in the ways the
// official spec warns about ("the response must be checked to see if it
// is in fact paginated").
type pager struct {
	total        int
	ignorePaging bool // every item, no offset or total: paging not supported
	noTotal      bool // a page, but no total anywhere
	short        int  // this many items fewer than asked
	wrongOffset  bool // the body says another offset
	headerTotal  int  // the header disagrees with the body
	sizeLie      bool // body size differs from the elements
	shrinkAt     int  // from this request on, the total drops by 10
	empty        bool // pages hold nothing while the total says more

	mu       sync.Mutex
	requests int
}

func (p *pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	n := p.requests
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/library/sections" {
		fmt.Fprint(w, `{"MediaContainer":{"size":1,"Directory":[{"key":"1","type":"movie","title":"Movies"}]}}`)
		return
	}
	if r.URL.Path != "/library/sections/1/all" {
		http.NotFound(w, r)
		return
	}
	total := p.total
	if p.shrinkAt > 0 && n >= p.shrinkAt {
		total -= 10
	}
	start, _ := strconv.Atoi(r.Header.Get("X-Plex-Container-Start"))
	size, _ := strconv.Atoi(r.Header.Get("X-Plex-Container-Size"))
	if p.ignorePaging {
		start, size = 0, total
	}
	end := min(start+size, total) - p.short
	if p.empty {
		end = start
	}
	var metas []map[string]any
	for i := start; i < end; i++ {
		metas = append(metas, map[string]any{"ratingKey": strconv.Itoa(i + 1), "type": "movie", "title": "M" + strconv.Itoa(i)})
	}
	mc := map[string]any{"size": len(metas), "Metadata": metas}
	if p.sizeLie {
		mc["size"] = len(metas) + 1
	}
	if !p.ignorePaging {
		mc["offset"] = start
		if p.wrongOffset {
			mc["offset"] = start + 1
		}
		w.Header().Set("X-Plex-Container-Start", strconv.Itoa(start))
		if !p.noTotal {
			mc["totalSize"] = total
			ht := total
			if p.headerTotal > 0 {
				ht = p.headerTotal
			}
			w.Header().Set("X-Plex-Container-Total-Size", strconv.Itoa(ht))
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"MediaContainer": mc})
}

func listPager(t *testing.T, p *pager, pageSize int) (map[string]int, error) {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	c, err := New(backend.Config{URL: srv.URL, Token: "t", Transport: backend.NewTransport(backend.TransportOptions{MaxRetries: -1})})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	err = c.Items(context.Background(), backend.ListOptions{PageSize: pageSize}, func(items []backend.Item) error {
		for _, it := range items {
			seen[it.ID]++
		}
		return nil
	})
	return seen, err
}

func TestPagingGood(t *testing.T) {
	for _, total := range []int{0, 1, 99, 100, 101, 1234} {
		p := &pager{total: total}
		seen, err := listPager(t, p, 100)
		if err != nil {
			t.Fatalf("total %d: %v", total, err)
		}
		if len(seen) != total {
			t.Errorf("total %d: listed %d", total, len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("total %d: %s listed %d times", total, id, n)
			}
		}
		pages := max((total+99)/100, 1)
		if p.requests != 1+pages {
			t.Errorf("total %d: %d requests, want %d", total, p.requests, 1+pages)
		}
	}
}

func TestPagingBroken(t *testing.T) {
	for name, p := range map[string]*pager{
		"ignores paging":          {total: 250, ignorePaging: true},
		"ignores paging, small":   {total: 30, ignorePaging: true},
		"no total":                {total: 250, noTotal: true},
		"short page":              {total: 250, short: 1},
		"wrong offset":            {total: 250, wrongOffset: true},
		"header disagrees":        {total: 250, headerTotal: 251},
		"size field lies":         {total: 250, sizeLie: true},
		"shrinks while listing":   {total: 250, shrinkAt: 3},
		"empty pages, total more": {total: 250, empty: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := listPager(t, p, 100)
			if !errors.Is(err, backend.ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			if p.requests > 5 {
				t.Errorf("%d requests: the client kept going", p.requests)
			}
		})
	}
}
