package simulate

import (
	"errors"
)

// Accounts beyond the owner and the guest, for the simulated plex.tv: a
// home user or a friend is one more server account, with its own token
// and its own play state, as on a real PMS (which learns the token from
// plex.tv).

// AddAccount adds a server account named name that token reaches, with
// its own (empty) play state, and returns its id.
func (s *PlexServer) AddAccount(name, token string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token == "" {
		return 0, errors.New("simulated plex: an account needs a token")
	}
	for _, a := range s.accounts {
		if a.token == token {
			return 0, errors.New("simulated plex: that token already belongs to an account")
		}
	}
	id := len(s.accounts) // accounts are indexed by id
	s.accounts = append(s.accounts, &plexAccount{id: id, name: name, token: token, watch: map[int32]plexWatch{}})
	return id, nil
}

// SetAccountToken replaces account id's token: the old one is rejected
// from now on (401), as when plex.tv revokes a user's server token.
func (s *PlexServer) SetAccountToken(id int, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id > 0 && id < len(s.accounts) {
		s.accounts[id].token = token
	}
}

// AccountToken is account id's current token ("" when there is none).
func (s *PlexServer) AccountToken(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id > 0 && id < len(s.accounts) {
		return s.accounts[id].token
	}
	return ""
}

// AccountWatch is account id's play state of media k.
func (s *PlexServer) AccountWatch(id int, k string) Watch {
	s.mu.Lock()
	n := len(s.accounts)
	s.mu.Unlock()
	if id < 1 || id >= n {
		return Watch{}
	}
	return s.watchOf(id, k)
}

// SetAccountWatch sets account id's play state of media k, as if that
// user did it in a Plex app.
func (s *PlexServer) SetAccountWatch(id int, k string, w Watch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || id >= len(s.accounts) {
		return
	}
	if oi, ok := s.objOfMedia(k); ok {
		a := s.accounts[id]
		before := a.watch[oi]
		s.setWatchLocked(a, oi, w)
		s.announceLocked(a, oi, before, a.watch[oi])
	}
}
