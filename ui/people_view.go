package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/state"
)

// newPersonLabel is the person picker's last choice: a backend moved to
// someone new.
const newPersonLabel = "New person…"

// PersonCard is a person on the Backends tab, above their backends.
type PersonCard struct {
	P      state.Person
	Title  *widget.Label
	Rename *widget.Button
	Merge  *widget.Button
	Remove *widget.Button
}

func (s *BackendsScreen) newPersonCard(p state.Person, backends []string) *PersonCard {
	c := &PersonCard{P: p}
	count := plural(len(backends), "backend")
	if len(backends) == 0 {
		count = "no backends"
	}
	c.Title = widget.NewLabelWithStyle(fmt.Sprintf("%s · %s", p.Name, count), fyne.TextAlignLeading,
		fyne.TextStyle{Bold: true})
	c.Title.SizeName = theme.SizeNameSubHeadingText
	c.Rename = widget.NewButtonWithIcon("Rename…", theme.DocumentCreateIcon(), func() { s.renamePrompt(p) })
	c.Merge = widget.NewButtonWithIcon("Merge into…", theme.ContentCopyIcon(), func() { s.mergePrompt(p) })
	c.Remove = widget.NewButtonWithIcon("Remove…", theme.DeleteIcon(), func() { s.removePrompt(p, backends) })
	if len(s.people) < 2 {
		c.Merge.Disable()
	}
	return c
}

func (c *PersonCard) card() fyne.CanvasObject {
	return container.NewVBox(container.NewBorder(nil, nil, container.NewHBox(widget.NewIcon(theme.AccountIcon()), c.Title), container.NewHBox(c.Rename, c.Merge, c.Remove)),
		widget.NewSeparator())
}

// person is the person named name among those shown.
func (s *BackendsScreen) person(name string) (state.Person, bool) {
	for _, p := range s.people {
		if p.Name == name {
			return p, true
		}
	}
	return state.Person{}, false
}

func (s *BackendsScreen) personDone(msg string, err error) {
	if err != nil {
		if errors.Is(err, state.ErrExists) {
			msg = err.Error() + ": someone has that name already; to make them one, use Merge into…"
		} else {
			msg = err.Error()
		}
	}
	s.PersonDialog = nil
	s.u.Window.setMessage(msg)
	s.sig = "" // show the store's truth, also after a failure
	s.u.d.Engine.Notify()
}

// renamePrompt asks for p's new name.
func (s *BackendsScreen) renamePrompt(p state.Person) {
	s.PersonName = widget.NewEntry()
	s.PersonName.SetText(p.Name)
	d := dialog.NewCustomConfirm("Rename "+p.Name, "Rename", "Cancel", s.PersonName, func(ok bool) {
		if !ok {
			s.PersonDialog = nil
			return
		}
		name := s.PersonName.Text
		var err error
		s.u.write(func() { err = s.u.st.RenamePerson(s.u.ctx, p.ID, name) },
			func() { s.personDone(fmt.Sprintf("Renamed %s to %s.", p.Name, name), err) })
	}, s.u.Window.win)
	d.Resize(fyne.NewSize(420, 160))
	s.PersonDialog = d
	d.Show()
	s.u.Window.win.Canvas().Focus(s.PersonName)
}

// mergePrompt asks whom p is the same person as.
func (s *BackendsScreen) mergePrompt(p state.Person) {
	var others []string
	for _, o := range s.people {
		if o.ID != p.ID {
			others = append(others, o.Name)
		}
	}
	s.MergeInto = widget.NewSelect(others, nil)
	explain := wrapLabel(fmt.Sprintf("%s and the person you choose are one person: %s's backends and history become theirs, "+
		"and their watch states merge (the newer one wins where both have one). The next export brings every one of their backends to the merged state.", p.Name, p.Name))
	d := dialog.NewCustomConfirm("Merge "+p.Name+" into…", "Merge", "Cancel", container.NewVBox(explain, s.MergeInto), func(ok bool) {
		into, found := s.person(s.MergeInto.Selected)
		if !ok || !found {
			s.PersonDialog = nil
			return
		}
		var err error
		s.u.write(func() { err = s.u.st.MergePeople(s.u.ctx, p.ID, into.ID) },
			func() { s.personDone(fmt.Sprintf("Merged %s into %s.", p.Name, into.Name), err) })
	}, s.u.Window.win)
	d.Resize(fyne.NewSize(520, 260))
	s.PersonDialog = d
	d.Show()
}

// movePrompt moves r's backend to the person named name (asking for a
// name when it is someone new).
func (s *BackendsScreen) movePrompt(r *BackendRow, name string) {
	b := r.B
	if name == b.Person {
		return
	}
	if name != newPersonLabel {
		to, ok := s.person(name)
		if !ok {
			return
		}
		s.move(b, to.Name, func() (int64, error) { return to.ID, nil })
		return
	}
	s.PersonName = widget.NewEntry()
	s.PersonName.SetPlaceHolder("their name")
	d := dialog.NewCustomConfirm("Move "+b.Name+" to someone new", "Move", "Cancel", s.PersonName, func(ok bool) {
		name := s.PersonName.Text
		if !ok || name == "" {
			s.PersonDialog = nil
			r.Person.Selected = b.Person // put the picker back
			r.Person.Refresh()
			return
		}
		s.move(b, name, func() (int64, error) {
			p, err := s.u.st.EnsurePerson(s.u.ctx, name)
			return p.ID, err
		})
	}, s.u.Window.win)
	d.Resize(fyne.NewSize(420, 160))
	s.PersonDialog = d
	d.Show()
	s.u.Window.win.Canvas().Focus(s.PersonName)
}

// move links backend b to the person person gives (off the UI thread).
// An export held for it is dropped by the move (it was planned from the
// former person's state): the message says so.
func (s *BackendsScreen) move(b state.Backend, name string, person func() (int64, error)) {
	var err error
	var dropped *state.Held
	s.u.write(func() {
		var id int64
		var held []state.Held
		if held, err = s.u.st.HeldExports(s.u.ctx); err != nil {
			return
		}
		if id, err = person(); err == nil {
			err = s.u.st.LinkBackend(s.u.ctx, b.Name, id)
		}
		for i := range held {
			if held[i].Backend == b.Name {
				dropped = &held[i]
			}
		}
	}, func() {
		msg := fmt.Sprintf("Moved %s to %s: its next import reads it whole into %s's watch state.", b.Name, name, name)
		if dropped != nil {
			msg += fmt.Sprintf(" The export held for it (%s to mark unwatched, planned for %s) was dropped; the next run plans again for %s.",
				plural(dropped.Unwatches, "item"), b.Person, name)
		}
		s.personDone(msg, err)
	})
}

// removeText is what the dialog removing p says goes (and what stays).
func removeText(p state.Person, backends []string) string {
	goes := fmt.Sprintf("Goes: %s's watch state (what they watched, started or marked unwatched, as Playmark recorded it)", p.Name)
	switch len(backends) {
	case 0:
		goes += "."
	case 1:
		goes += fmt.Sprintf(", and their backend %s: Playmark forgets it and its token.", backends[0])
	default:
		goes += fmt.Sprintf(", and their %d backends %s: Playmark forgets them and their tokens.", len(backends), strings.Join(backends, ", "))
	}
	return goes + "\n\nStays: the films and episodes, everyone else's watch state, history, and everything on the servers. " +
		"A backup of everyone's watch state is made first (Settings, data folder, backups)."
}

// removePrompt asks whether to remove p, saying what goes with them.
func (s *BackendsScreen) removePrompt(p state.Person, backends []string) {
	title, button := "Remove "+p.Name+"?", "Remove"
	if len(backends) > 0 {
		title = fmt.Sprintf("Remove %s and %s?", p.Name, plural(len(backends), "backend"))
		button = "Remove both"
		if len(backends) > 1 {
			button = "Remove all"
		}
	}
	s.RemoveText = wrapLabel(removeText(p, backends))
	d := dialog.NewCustomConfirm(title, button, "Cancel", s.RemoveText, func(ok bool) {
		if !ok {
			s.PersonDialog = nil
			return
		}
		var out state.PersonRemoved
		var err error
		s.u.write(func() { out, _, err = s.u.d.Engine.RemovePerson(s.u.ctx, p.ID, true, true) },
			func() {
				msg := fmt.Sprintf("Removed %s and their watch state (%s)", p.Name, plural(out.Plays, "item"))
				if len(out.Backends) > 0 {
					msg += ", with " + strings.Join(out.Backends, ", ")
				}
				s.personDone(msg+"; a backup was made first.", err)
			})
	}, s.u.Window.win)
	d.Resize(fyne.NewSize(520, 280))
	s.PersonDialog = d
	d.Show()
}
