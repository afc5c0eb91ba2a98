package ui

import (
	"context"
	"errors"

	"playmark/sync/accounts"
	"playmark/sync/state"
)

// householdReady says whether the store keeps people (a backend per
// user, each linked to a person). Until it does, the sign-in adds the
// account's own user only: two users' watch state in one play state
// would mix them.
const householdReady = false

// defaultSelection is who the users step checks at first: everyone but
// guests.
func defaultSelection(users []accounts.User) map[string]bool {
	sel := map[string]bool{}
	for _, u := range users {
		if !u.Guest {
			sel[u.ID] = true
		}
	}
	return sel
}

// addUsers makes a backend for each of users on sv. Off the UI thread.
func (u *UI) addUsers(ctx context.Context, a state.Account, sv accounts.Server, users []accounts.User, pins map[string]string) ([]state.Backend, error) {
	m, err := u.accounts(ctx)
	if err != nil {
		return nil, err
	}
	var added []state.Backend
	var errs []error
	for _, usr := range users {
		b, err := u.addOne(ctx, m, a, sv, usr, pins[usr.ID])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		added = append(added, b)
	}
	return added, errors.Join(errs...)
}

// loadLinks fills the users step's Person column.
func (s *SignIn) loadLinks() {
	for _, r := range s.Users {
		if isSelf(s.Account, r.U) {
			r.Linked.SetText("you")
		}
	}
}
