package simulate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Playback sessions, as a player app reports them, and what they do to the
// user's data (API-NOTES section 7, read from Jellyfin's SessionManager
// and UserDataManager at v10.11.11):
//
//   - start (POST /Sessions/Playing): PlayCount+1 and LastPlayedDate = now;
//     on Jellyfin 10.5-10.11 also Played = false for a video that can
//     resume (12.0 leaves Played alone). Sent on the socket.
//   - progress (POST /Sessions/Playing/Progress) and stop (POST
//     /Sessions/Playing/Stopped) never move LastPlayedDate: below 5 % the
//     position is dropped, past 90 % the item is Played and the position
//     cleared, otherwise the position is kept. Progress is not sent on the
//     socket; a stop is. A stop without a position counts as played.
//
// Emby is modelled the same way, without clearing Played at start. Plex's
// sessions are its /:/timeline, which moves lastViewedAt (see plex.go).

// PlaybackPhase is a step of a playback session.
type PlaybackPhase int

// The phases a player reports.
const (
	PlaybackStart PlaybackPhase = iota
	PlaybackProgress
	PlaybackStop
)

// Playback reports one step of the default user playing media k at pos on
// srv, over HTTP as a player app does: Jellyfin/Emby /Sessions/Playing…,
// Plex /:/timeline (start and progress "playing", stop "stopped").
func Playback(srv Server, k string, phase PlaybackPhase, pos time.Duration) error {
	id := srv.RemoteID(k)
	if id == "" {
		return fmt.Errorf("simulate: %s is not on this server", k)
	}
	var req *http.Request
	var err error
	switch s := srv.(type) {
	case *MediaBrowserServer:
		path := "/Sessions/Playing"
		switch phase {
		case PlaybackProgress:
			path += "/Progress"
		case PlaybackStop:
			path += "/Stopped"
		}
		body, _ := json.Marshal(map[string]any{"ItemId": id, "PositionTicks": int64(pos / 100), "PlaySessionId": "sim-" + id})
		req, err = http.NewRequest(http.MethodPost, s.URL()+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", `MediaBrowser Client="Simulated Player", Device="Simulator", DeviceId="sim-player", Version="1", Token="`+s.Token()+`"`)
	case *PlexServer:
		m, _ := s.cat.Lookup(k)
		st := "playing"
		if phase == PlaybackStop {
			st = "stopped"
		}
		q := url.Values{"ratingKey": {id}, "key": {"/library/metadata/" + id}, "state": {st},
			"time": {strconv.FormatInt(pos.Milliseconds(), 10)}, "duration": {strconv.FormatInt(m.Duration.Milliseconds(), 10)}}
		req, err = http.NewRequest(http.MethodPost, s.URL()+"/:/timeline?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-Plex-Token", s.Token())
		req.Header.Set("X-Plex-Client-Identifier", "sim-player")
	default:
		return fmt.Errorf("simulate: playback on %T", srv)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("simulate: playback %s: HTTP %d", req.URL.Path, resp.StatusCode)
	}
	return nil
}

// mbPlaybackIn is the part of PlaybackStartInfo / PlaybackProgressInfo /
// PlaybackStopInfo the simulator reads.
type mbPlaybackIn struct {
	ItemID        string `json:"ItemId"`
	PositionTicks *int64 `json:"PositionTicks"`
}

// servePlayback applies one session report for caller who. A caller
// without a user (an API key) has no session user: nothing changes.
func (s *MediaBrowserServer) servePlayback(w http.ResponseWriter, r *http.Request, who mbCaller, phase PlaybackPhase) {
	var in mbPlaybackIn
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil || in.ItemID == "" {
		s.fail(w, http.StatusBadRequest, "invalid playback info")
		return
	}
	u := who.user
	if u == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.mu.Lock()
	n, status := s.item(in.ItemID)
	if status == 0 && s.nodes[n].kind != mbMovie && s.nodes[n].kind != mbEpisode {
		status = http.StatusBadRequest
	}
	if status != 0 {
		s.mu.Unlock()
		s.fail(w, status, "")
		return
	}
	d := &u.data[n]
	before := *d
	src := mbByPlaybackStop
	switch phase {
	case PlaybackStart:
		src = mbByPlaybackStart
		d.count++
		d.last = s.now().UnixNano() / 100 * 100
		if s.fl.replayUnplays && s.runtime(n) > 0 {
			d.played = false
		}
	default:
		if phase == PlaybackProgress {
			src = mbByPlaybackProgress
		}
		if in.PositionTicks == nil {
			if phase == PlaybackStop {
				d.played, d.pos = true, 0
			}
			break
		}
		pos, rt := max(*in.PositionTicks, 0), s.runtime(n)
		switch pct := float64(pos) * 100 / float64(max(rt, 1)); {
		case rt <= 0 || pct > 90 || pos >= rt:
			d.played, d.pos = true, 0
		case pct < 5:
			d.pos = 0
		default:
			d.pos = pos
		}
	}
	u.version++
	if src != mbByPlaybackProgress { // progress saves are not announced
		s.announceLocked(u, []int32{n}, []mbUserData{before}, src)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Mark marks media k played or unplayed for the default user on srv over
// HTTP, as the server's own web app does: Jellyfin/Emby POST or DELETE
// PlayedItems with no DatePlayed (so Jellyfin keeps an existing play date),
// Plex /:/scrobble or /:/unscrobble.
func Mark(srv Server, k string, played bool) error {
	id := srv.RemoteID(k)
	if id == "" {
		return fmt.Errorf("simulate: %s is not on this server", k)
	}
	var req *http.Request
	var err error
	switch s := srv.(type) {
	case *MediaBrowserServer:
		method := http.MethodPost
		if !played {
			method = http.MethodDelete
		}
		req, err = http.NewRequest(method, s.URL()+"/Users/"+s.UserID()+"/PlayedItems/"+id, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", `MediaBrowser Client="Web", Device="Browser", DeviceId="sim-web", Version="1", Token="`+s.Token()+`"`)
	case *PlexServer:
		path := "/:/scrobble"
		if !played {
			path = "/:/unscrobble"
		}
		req, err = http.NewRequest(http.MethodGet, s.URL()+path+"?identifier=com.plexapp.plugins.library&key="+id, nil)
		if err != nil {
			return err
		}
		req.Header.Set("X-Plex-Token", s.Token())
	default:
		return fmt.Errorf("simulate: mark on %T", srv)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("simulate: mark %s: HTTP %d", req.URL.Path, resp.StatusCode)
	}
	return nil
}
