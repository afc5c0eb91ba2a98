package engine

import (
	"context"
	"fmt"

	"playmark/sync/state"
)

// RemovePerson removes a person and their play state, after a backup of
// everyone's (reason "before-person-remove"), under the run lock (with
// wait, after a run in progress; without, state.ErrBusy). A person with
// backends linked is refused with a *state.HasBackendsError
// (state.ErrHasBackends), before any backup, unless withBackends, which
// removes those backends too. It returns what went and the backup's path.
func (e *Engine) RemovePerson(ctx context.Context, id int64, withBackends, wait bool) (state.PersonRemoved, string, error) {
	var out state.PersonRemoved
	release, err := e.store.LockRuns(ctx, wait)
	if err != nil {
		return out, "", err
	}
	defer release()
	people, err := e.store.People(ctx)
	if err != nil {
		return out, "", err
	}
	var p *state.Person
	for i := range people {
		if people[i].ID == id {
			p = &people[i]
		}
	}
	if p == nil {
		return out, "", fmt.Errorf("person %d: %w", id, state.ErrNotFound)
	}
	theirs, err := e.store.PersonBackends(ctx, id)
	if err != nil {
		return out, "", err
	}
	if len(theirs) > 0 && !withBackends {
		return out, "", &state.HasBackendsError{Person: p.Name, Backends: theirs}
	}
	path, err := e.Backup(ctx, "before-person-remove")
	if err != nil {
		return out, "", fmt.Errorf("automatic backup failed, nothing removed: %w", err)
	}
	out, err = e.store.RemovePerson(ctx, id, withBackends)
	if err != nil {
		return out, path, err
	}
	e.Notify()
	return out, path, nil
}
