package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/state"
)

// SettingsScreen edits the preferences: start at login and notifications
// take effect when ticked; the numbers are checked as they are typed and
// saved with Save. It also shows the data folder, with Open.
type SettingsScreen struct {
	u       *UI
	content fyne.CanvasObject
	loaded  bool
	saved   state.Settings

	StartAtLogin  *widget.Check
	Notifications *widget.Check
	NotifySuccess *widget.Check
	Replay        *widget.Check

	ProgressMin     *widget.Entry // seconds
	ExportThreshold *widget.Entry
	GuardPercent    *widget.Entry
	GuardMin        *widget.Entry
	GuardCount      *widget.Entry
	Save            *widget.Button
	Error           *widget.Label

	Folder      *widget.Label
	Open        *widget.Button
	Backup      *widget.Button // writes a backup into the backups folder
	OpenBackups *widget.Button
	RestoreFile *widget.Button // Restore from a file…: a backup outside the backups folder
	BackupNote  *widget.Label
	Backups     *BackupsView
}

func newSettingsScreen(u *UI) *SettingsScreen {
	s := &SettingsScreen{u: u}
	s.StartAtLogin = widget.NewCheck("Start Playmark when I log in (in the tray, without the window)", nil)
	s.Notifications = widget.NewCheck("Notify me of errors, rejected tokens and held exports", nil)
	s.NotifySuccess = widget.NewCheck("Also after every successful run, with what changed", nil)
	s.Replay = widget.NewCheck("Keep resume positions of watched items (re-watches)", nil)
	num := func() *widget.Entry {
		e := widget.NewEntry()
		e.OnChanged = func(string) { s.check() }
		return e
	}
	s.ProgressMin = num()
	s.ExportThreshold = num()
	s.GuardPercent = num()
	s.GuardMin = num()
	s.GuardCount = num()
	s.Error = widget.NewLabel("")
	s.Error.Importance = widget.DangerImportance
	s.Error.Wrapping = fyne.TextWrapWord
	s.Error.Hide()
	s.Save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), s.save)
	s.Save.Importance = widget.HighImportance
	s.Save.Disable()

	s.Folder = widget.NewLabel(u.d.Dir)
	s.Folder.Wrapping = fyne.TextWrapBreak
	s.Open = widget.NewButtonWithIcon("Open", theme.FolderOpenIcon(), func() {
		if err := u.openFolder(u.d.Dir); err != nil {
			u.Window.setMessage("Could not open the data folder: " + err.Error())
		}
	})
	s.Backup = widget.NewButtonWithIcon("Back up now", theme.DownloadIcon(), s.backup)
	s.OpenBackups = widget.NewButtonWithIcon("Open folder", theme.FolderOpenIcon(), func() {
		if err := u.openFolder(u.d.Engine.BackupDir()); err != nil {
			u.Window.setMessage("Could not open the backups folder: " + err.Error())
		}
	})
	s.RestoreFile = widget.NewButtonWithIcon("Restore from a file…", theme.HistoryIcon(), func() { s.Backups.chooseFile() })
	s.BackupNote = hint("A backup holds everyone's play state as portable JSON lines, keyed by external ids (no tokens). " +
		"Restore… puts a backup's marks back onto servers you choose, after a preview; Restore from a file… does the same with a backup kept elsewhere.")
	s.Backups = newBackupsView(u)
	general := section("General", container.NewVBox(s.StartAtLogin, s.Notifications, s.NotifySuccess))
	if u.d.Autostart == nil {
		s.StartAtLogin.Disable()
		s.StartAtLogin.Text = "Start Playmark when I log in (not available on this system)"
	}
	syncCard := section("Sync", container.NewVBox(
		widget.NewForm(
			widget.NewFormItem("Progress minimum (seconds)", s.ProgressMin),
			widget.NewFormItem("Export threshold (changes)", s.ExportThreshold),
			widget.NewFormItem("Guard: hold above (% of watched)", s.GuardPercent),
			widget.NewFormItem("Guard: once at least (items)", s.GuardMin),
			widget.NewFormItem("Guard: or above (items)", s.GuardCount),
		),
		s.Replay,
		hint("Resume positions below the minimum are not synced. Above the threshold, an export compares the whole server instead of pushing the changes. "+
			"The mass-change guard holds an export that would mark more than that share of a server's watched items unwatched (once at least that many), or more than that many at all."),
		s.Error,
		container.NewHBox(s.Save),
	))
	data := section("Data", container.NewVBox(
		container.NewBorder(nil, nil, widget.NewLabel("Data folder:"), s.Open, s.Folder),
		hint("Playmark "+u.d.Version),
	))
	backups := section("Backups", container.NewVBox(
		container.NewHBox(s.Backup, s.OpenBackups, s.RestoreFile),
		s.BackupNote,
		s.Backups.content,
	))
	s.content = container.NewVScroll(container.NewGridWithColumns(2, container.NewVBox(general, data, backups), syncCard))
	return s
}

// section is a titled group of settings.
func section(title string, body fyne.CanvasObject) fyne.CanvasObject {
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return container.NewVBox(head, body, widget.NewSeparator())
}

func hint(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.LowImportance
	return l
}

func (s *SettingsScreen) apply(d viewData) {
	s.Backups.apply(d)
	setEnabled(s.RestoreFile, len(d.backends) > 0)
	s.StartAtLogin.OnChanged = nil
	s.StartAtLogin.SetChecked(d.snap.StartAtLogin)
	s.StartAtLogin.OnChanged = s.startAtLoginChanged
	if s.loaded {
		return
	}
	s.loaded = true
	s.load(d.settings)
}

// load shows saved settings in the form.
func (s *SettingsScreen) load(set state.Settings) {
	s.saved = set
	for _, c := range []*widget.Check{s.Notifications, s.NotifySuccess, s.Replay} {
		c.OnChanged = nil
	}
	s.Notifications.SetChecked(set.Notifications)
	s.NotifySuccess.SetChecked(set.NotifySuccess)
	s.Replay.SetChecked(set.ReplayTracking)
	s.Notifications.OnChanged = func(on bool) { s.saveFlags(func(st *state.Settings) { st.Notifications = on }) }
	s.NotifySuccess.OnChanged = func(on bool) { s.saveFlags(func(st *state.Settings) { st.NotifySuccess = on }) }
	s.Replay.OnChanged = func(on bool) { s.saveFlags(func(st *state.Settings) { st.ReplayTracking = on }) }
	s.ProgressMin.SetText(strconv.Itoa(int(set.ProgressMin / time.Second)))
	s.ExportThreshold.SetText(strconv.Itoa(set.ExportThreshold))
	s.GuardPercent.SetText(strconv.Itoa(set.GuardPercent))
	s.GuardMin.SetText(strconv.Itoa(set.GuardMin))
	s.GuardCount.SetText(strconv.Itoa(set.GuardCount))
	s.Save.Disable()
	showText(s.Error, "")
}

func (s *SettingsScreen) startAtLoginChanged(on bool) {
	if err := s.u.setStartAtLogin(on); err != nil {
		s.StartAtLogin.OnChanged = nil
		s.StartAtLogin.SetChecked(!on)
		s.StartAtLogin.OnChanged = s.startAtLoginChanged
	}
}

// saveFlags saves a tick at once, over the settings as stored (so that
// numbers being typed but not saved stay unsaved).
func (s *SettingsScreen) saveFlags(fn func(*state.Settings)) {
	u := s.u
	fn(&s.saved)
	var err error
	u.write(func() {
		var set state.Settings
		if set, err = u.st.Settings(u.ctx); err == nil {
			fn(&set)
			err = u.st.SaveSettings(u.ctx, set)
		}
	}, func() {
		if err != nil {
			u.Window.setMessage("Could not save the settings: " + err.Error())
			return
		}
		u.d.Engine.Notify()
		u.Window.setMessage("Settings saved.")
	})
}

// numbers parses the number fields, saying what is wrong in words.
func (s *SettingsScreen) numbers() (progressMin, threshold, pct, gmin, gcount int, err error) {
	parse := func(e *widget.Entry, what string, lo, hi int) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(e.Text))
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%s: enter a whole number from %d to %d", what, lo, hi)
		}
		return n, nil
	}
	if progressMin, err = parse(s.ProgressMin, "Progress minimum", 0, 3600); err != nil {
		return
	}
	if threshold, err = parse(s.ExportThreshold, "Export threshold", 1, 10_000_000); err != nil {
		return
	}
	if pct, err = parse(s.GuardPercent, "Guard percent", 1, 100); err != nil {
		return
	}
	if gmin, err = parse(s.GuardMin, "Guard minimum", 0, 10_000_000); err != nil {
		return
	}
	gcount, err = parse(s.GuardCount, "Guard count", 1, 10_000_000)
	return
}

// check validates the numbers as they are typed: Save is enabled when
// they are valid and differ from what is saved.
func (s *SettingsScreen) check() {
	if !s.loaded {
		return
	}
	pm, th, pct, gmin, gc, err := s.numbers()
	if err != nil {
		showText(s.Error, err.Error())
		s.Save.Disable()
		return
	}
	showText(s.Error, "")
	old := s.saved
	changed := time.Duration(pm)*time.Second != old.ProgressMin || th != old.ExportThreshold ||
		pct != old.GuardPercent || gmin != old.GuardMin || gc != old.GuardCount
	setEnabled(s.Save, changed)
}

func (s *SettingsScreen) save() {
	pm, th, pct, gmin, gc, err := s.numbers()
	if err != nil {
		showText(s.Error, err.Error())
		return
	}
	u := s.u
	s.Save.Disable()
	u.Window.setMessage("Saving the settings…")
	var set state.Settings
	u.write(func() {
		if set, err = u.st.Settings(u.ctx); err == nil {
			set.ProgressMin = time.Duration(pm) * time.Second
			set.ExportThreshold, set.GuardPercent, set.GuardMin, set.GuardCount = th, pct, gmin, gc
			err = u.st.SaveSettings(u.ctx, set)
		}
	}, func() {
		if err != nil {
			showText(s.Error, "Could not save: "+err.Error())
			u.Window.setMessage("")
			s.check()
			return
		}
		// The flags may have changed meanwhile: keep them as ticked.
		set.Notifications, set.NotifySuccess, set.ReplayTracking = s.saved.Notifications, s.saved.NotifySuccess, s.saved.ReplayTracking
		s.saved = set
		s.check()
		u.d.Engine.Notify()
		u.Window.setMessage("Settings saved.")
	})
}

// backup writes a backup of the play state into the backups folder.
func (s *SettingsScreen) backup() {
	u := s.u
	s.Backup.Disable()
	var path string
	var err error
	u.goBg(func() {
		path, err = u.d.Engine.Backup(u.ctx, "manual")
	}, func() {
		s.Backup.Enable()
		if err != nil {
			u.Window.setMessage("Backup failed: " + err.Error())
			return
		}
		u.Window.setMessage("Backup written: " + path)
		u.d.Engine.Notify() // list it
	})
}
