package ui

import (
	"context"
	"fmt"

	"playmark/sync/accounts"
	"playmark/sync/state"
)

// defaultSelection is who the users step checks at first: everyone but
// guests (accounts.DefaultSelection), by user id.
func defaultSelection(users []accounts.User) map[string]bool {
	sel := map[string]bool{}
	for _, u := range accounts.DefaultSelection(users) {
		sel[u.ID] = true
	}
	return sel
}

// addUsers makes a backend for each of users on sv, each linked to a
// person by name. Off the UI thread.
func (u *UI) addUsers(ctx context.Context, a state.Account, sv accounts.Server, users []accounts.User, pins map[string]string) ([]state.Backend, error) {
	m, err := u.accounts(ctx)
	if err != nil {
		return nil, err
	}
	return m.AddHousehold(ctx, a, sv, users, pins)
}

// LinkText says who user name will be linked to, given the people and
// backends there are: an existing person of that name (case and spaces
// ignored), with their backends, or a new person.
func LinkText(name string, people []state.Person, backends []state.Backend) string {
	for _, p := range people {
		if state.NameKey(p.Name) != state.NameKey(name) {
			continue
		}
		var theirs []string
		for _, b := range backends {
			if b.PersonID == p.ID {
				theirs = append(theirs, b.Name)
			}
		}
		if len(theirs) == 0 {
			return p.Name
		}
		return fmt.Sprintf("%s (also %s)", p.Name, joinShort(theirs, 2))
	}
	return name + " (new)"
}

// joinShort lists at most n names, then how many more.
func joinShort(names []string, n int) string {
	if len(names) <= n {
		return joinAnd(names)
	}
	return fmt.Sprintf("%s and %d more", joinAnd(names[:n]), len(names)-n)
}

func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, x := range names[1 : len(names)-1] {
		out += ", " + x
	}
	return out + " and " + names[len(names)-1]
}

// loadLinks fills the users step's Person column: who each user is, or
// will be, linked to.
func (s *SignIn) loadLinks() {
	var people []state.Person
	var backends []state.Backend
	var err error
	rows := s.Users
	s.u.goBg(func() {
		if people, err = s.u.st.People(s.u.ctx); err != nil {
			return
		}
		backends, err = s.u.st.Backends(s.u.ctx)
	}, func() {
		for _, r := range rows {
			switch {
			case err != nil:
				r.Linked.SetText("?")
			default:
				r.Linked.SetText(LinkText(r.U.Name, people, backends))
			}
		}
	})
}
