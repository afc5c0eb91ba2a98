package ui

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// BackupsView is the Backups part of Settings: the backups in the
// backups folder (when, why, how many items), each with Restore…, which
// opens the RestoreDialog.
type BackupsView struct {
	u       *UI
	content *fyne.Container
	list    *fyne.Container
	Rows    []*BackupRow
	Empty   *widget.Label

	shown    []engine.BackupInfo // what Rows show
	backends []state.Backend     // for the restore dialog (read by load)
	people   int
	running  bool
	now      time.Time
	dialog   *RestoreDialog // the open one, if any
}

// BackupRow is one backup in the list.
type BackupRow struct {
	Info    engine.BackupInfo
	Text    *widget.Label
	Restore *widget.Button
}

func newBackupsView(u *UI) *BackupsView {
	v := &BackupsView{u: u, list: container.NewVBox(), now: time.Now()}
	v.Empty = hint("No backup yet. Playmark makes one before a full export, a restore, applying a held export and removing a person; Back up now makes one at any time.")
	v.content = container.NewVBox(v.Empty, v.list)
	return v
}

// reasonText says why a backup was made, from its name.
func reasonText(reason string) string {
	switch reason {
	case "manual":
		return "made by hand"
	case "before-full-export":
		return "automatic, before a full export"
	case "before-restore":
		return "automatic, before a restore"
	case "before-held-apply":
		return "automatic, before applying a held export"
	case "before-person-remove":
		return "automatic, before removing a person"
	case "":
		return "reason unknown"
	}
	return strings.ReplaceAll(reason, "-", " ")
}

// backupText is a backup's row: "Fri 27 Nov 14:02 · made by hand ·
// 1,234 items · 56 kB".
func (v *BackupsView) backupText(b engine.BackupInfo) string {
	when := "unknown time"
	if !b.Created.IsZero() {
		when = clock(b.Created, v.now)
	}
	parts := []string{when, reasonText(b.Reason)}
	if b.Err != nil {
		parts = append(parts, "unreadable: "+b.Err.Error())
	} else {
		parts = append(parts, plural(b.Items, "item"))
	}
	parts = append(parts, humanize.Bytes(uint64(b.Size)))
	return strings.Join(parts, " · ")
}

// apply shows a refresh's backups; the rows are rebuilt only when the
// list changed.
func (v *BackupsView) apply(d viewData) {
	v.backends, v.people, v.running, v.now = d.backends, len(d.people), d.snap.Status.Running, d.snap.Now
	if d.backupsErr != nil {
		showText(v.Empty, "Could not list the backups: "+d.backupsErr.Error())
	} else if len(d.backups) == 0 {
		v.Empty.SetText("No backup yet. Playmark makes one before a full export, a restore, applying a held export and removing a person; Back up now makes one at any time.")
		v.Empty.Show()
	} else {
		v.Empty.Hide()
	}
	if !slices.EqualFunc(v.shown, d.backups, func(a, b engine.BackupInfo) bool {
		return a.Path == b.Path && a.Items == b.Items && a.Size == b.Size && (a.Err == nil) == (b.Err == nil)
	}) {
		v.shown = d.backups
		v.Rows = nil
		v.list.Objects = nil
		for _, b := range d.backups {
			row := &BackupRow{Info: b, Text: widget.NewLabel(v.backupText(b))}
			row.Text.Wrapping = fyne.TextWrapWord
			row.Restore = widget.NewButtonWithIcon("Restore…", theme.HistoryIcon(), func() { v.openRestore(b) })
			v.Rows = append(v.Rows, row)
			v.list.Add(container.NewBorder(nil, nil, nil, container.NewCenter(row.Restore), row.Text))
		}
		v.list.Refresh()
	}
	for _, row := range v.Rows {
		setEnabled(row.Restore, row.Info.Err == nil && len(v.backends) > 0)
	}
	if v.dialog != nil {
		v.dialog.idle(!v.running)
	}
}

// chooseFile asks for a backup file anywhere (one copied from another
// machine, say) and opens the restore dialog on it.
func (v *BackupsView) chooseFile() {
	d := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
		if err != nil {
			v.u.Window.setMessage("Could not open the file: " + err.Error())
			return
		}
		if rc == nil {
			return // cancelled
		}
		path := rc.URI().Path()
		rc.Close()
		v.openRestoreFile(path)
	}, v.u.Window.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".gz", ".jsonl"}))
	d.Resize(fyne.NewSize(820, 600))
	d.Show()
}

// openRestoreFile opens the restore dialog on the backup at path, or says
// why it is not one.
func (v *BackupsView) openRestoreFile(path string) {
	b := engine.BackupInfoOf(path)
	if b.Err != nil {
		v.u.Window.setMessage(filepath.Base(path) + " is not a backup Playmark can read: " + b.Err.Error())
		return
	}
	v.openRestore(b)
}

// RestoreDialog restores a backup onto the chosen backends: it reads the
// backup (off the UI thread), then Preview shows the dry run (what
// would change on each server), and Restore writes it. A restore the
// mass-change guard holds is written only with "Restore anyway".
type RestoreDialog struct {
	v    *BackupsView
	info engine.BackupInfo
	dlg  dialog.Dialog

	Checks  []*widget.Check
	names   []string // the backend of each check
	Note    *widget.Label
	Report  *ReportView
	Preview *widget.Button
	Restore *widget.Button

	items    []engine.BackupItem // nil until read
	previewd []string            // the backends the shown preview is of
	yes      bool                // the guard's hold is overruled (Restore anyway)
	busy     bool                // a preview or restore of this dialog runs
	done     bool                // restored: nothing more to do
	idleNow  bool                // no run in progress
}

func (v *BackupsView) openRestore(b engine.BackupInfo) {
	u := v.u
	r := &RestoreDialog{v: v, info: b, Note: widget.NewLabel("Reading the backup…"), Report: newReportView(), idleNow: !v.running}
	r.Note.Wrapping = fyne.TextWrapWord
	for _, be := range v.backends {
		label := be.Name
		if v.people > 1 && be.Person != "" {
			label += " (" + be.Person + "'s marks)"
		}
		c := widget.NewCheck(label, func(bool) { r.changed() })
		r.Checks = append(r.Checks, c)
		r.names = append(r.names, be.Name)
	}
	r.Preview = widget.NewButtonWithIcon("Preview", theme.VisibilityIcon(), func() { r.run(true) })
	r.Restore = widget.NewButtonWithIcon("Restore", theme.HistoryIcon(), func() { r.run(false) })
	r.Restore.Importance = widget.DangerImportance
	cols := 1
	if len(r.Checks) > 3 {
		cols = 3
	}
	checks := container.NewGridWithColumns(cols)
	for _, c := range r.Checks {
		checks.Add(c)
	}
	top := container.NewVBox(
		widget.NewLabelWithStyle("Backup of "+v.backupText(b), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		hint("File: "+b.Path),
		hint("Restore makes the chosen servers' marks match this backup: each gets its person's marks. A server's play newer than the backup is kept. "+
			"Preview shows what would change; nothing is written until Restore, after a backup of the current state. "+
			"Playmark's own state learns the restored marks on the next import."),
		widget.NewLabel("Restore onto:"), checks, r.Note,
		container.NewHBox(r.Preview, r.Restore), widget.NewSeparator())
	r.dlg = dialog.NewCustom("Restore a backup", "Close", container.NewBorder(top, nil, nil, nil, r.Report.content), u.Window.win)
	r.dlg.SetOnClosed(func() {
		if v.dialog == r {
			v.dialog = nil
		}
	})
	r.dlg.Resize(fyne.NewSize(820, 600))
	v.dialog = r
	r.update()
	r.dlg.Show()
	path := b.Path
	var items []engine.BackupItem
	var err error
	u.goBg(func() { items, err = engine.ReadBackupFile(path) }, func() {
		if err != nil {
			r.Note.SetText("This backup cannot be restored: " + err.Error())
			r.done = true
		} else {
			r.items = items
			r.Note.SetText(fmt.Sprintf("The backup is whole: %s. Choose the servers, then Preview.", plural(len(items), "item")))
		}
		r.update()
	})
}

// check is the check of backend name (tests).
func (r *RestoreDialog) check(name string) *widget.Check {
	return r.Checks[slices.Index(r.names, name)]
}

// chosen is the ticked backends.
func (r *RestoreDialog) chosen() []string {
	var out []string
	for i, c := range r.Checks {
		if c.Checked {
			out = append(out, r.names[i])
		}
	}
	return out
}

// changed: another choice of servers needs its own preview.
func (r *RestoreDialog) changed() {
	r.previewd, r.yes = nil, false
	r.Restore.SetText("Restore")
	r.update()
}

func (r *RestoreDialog) idle(on bool) {
	r.idleNow = on
	r.update()
}

// update enables what can be done now: Preview once the backup is read
// and a server chosen, Restore once that choice was previewed; neither
// while a run is in progress.
func (r *RestoreDialog) update() {
	ok := r.items != nil && !r.busy && !r.done && r.idleNow && len(r.chosen()) > 0
	setEnabled(r.Preview, ok)
	setEnabled(r.Restore, ok && slices.Equal(r.previewd, r.chosen()))
}

// run previews (dry) or writes the restore of the chosen backends, off
// the UI thread, through the same engine call as the CLI's restore.
func (r *RestoreDialog) run(dry bool) {
	u := r.v.u
	names := r.chosen()
	r.busy = true
	r.update()
	if dry {
		r.Note.SetText("Previewing the restore onto " + strings.Join(names, ", ") + "…")
	} else {
		r.Note.SetText("Restoring onto " + strings.Join(names, ", ") + "…")
	}
	opt := engine.RunOptions{DryRun: dry, Yes: r.yes && !dry, Trigger: "window"}
	items := r.items
	var rep *engine.Report
	var err error
	u.goBg(func() { rep, err = u.d.Engine.RestoreBackends(u.ctx, items, names, opt) }, func() {
		r.busy = false
		msg := RunMessage("restore", rep, err)
		u.Window.setMessage(msg)
		if rep != nil {
			r.Report.set(rep)
		}
		switch {
		case errors.Is(err, engine.ErrBusy):
			r.Note.SetText("Not started: another sync run is in progress; try again when it has finished.")
		case err != nil:
			r.Note.SetText(msg)
		case dry:
			r.previewd = names
			next := "Check them below; Restore writes them."
			if rep.Changed() == 0 {
				next = "The servers already match this backup: Restore would write nothing."
			}
			var holds []string
			for _, b := range rep.Backends {
				if b.WouldHold {
					holds = append(holds, fmt.Sprintf("on %s it would mark %d of its %s unwatched", b.Backend, b.WouldUnwatch, plural(b.WouldOf, "watched item")))
				}
			}
			if len(holds) > 0 {
				// Seen and said: the button that writes it says so.
				next = "Careful: the mass-change guard would hold this restore: " + strings.Join(holds, "; ") +
					". Check the changes below; Restore anyway writes them."
				r.yes = true
				r.Restore.SetText("Restore anyway")
			}
			r.Note.SetText(strings.TrimSuffix(msg, ".") + ". " + next)
		case len(rep.Held) > 0:
			var held []string
			for _, h := range rep.Held {
				held = append(held, fmt.Sprintf("on %s it would mark %d of %d watched items unwatched", h.Backend, h.Unwatches, h.Watched))
			}
			r.Note.SetText("The mass-change guard held the restore: " + strings.Join(held, "; ") +
				". Nothing was written there. Check the preview, then Restore anyway to write it.")
			r.yes = true
			r.Restore.SetText("Restore anyway")
		case rep.Status == state.RunFailed:
			r.Note.SetText(msg)
		default:
			r.done = true
			r.Note.SetText(fmt.Sprintf("Restored: %s written. The next import brings them into Playmark.", plural(rep.Changed(), "change")))
		}
		r.update()
		u.d.Engine.Notify()
	})
}
