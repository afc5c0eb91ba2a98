package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"playmark/sync/engine"
	"playmark/sync/state"
)

// ReportView shows a run's report: a summary per backend and the changes
// made (or, for a dry run, planned).
type ReportView struct {
	content fyne.CanvasObject
	Summary *widget.Label
	Changes *widget.List
	changes []state.Change
}

func newReportView() *ReportView {
	r := &ReportView{Summary: widget.NewLabel("")}
	r.Summary.Wrapping = fyne.TextWrapWord
	r.Changes = textList(func() int { return len(r.changes) }, func(i int) string { return ChangeText(r.changes[i]) })
	r.content = container.NewBorder(r.Summary, nil, nil, nil, r.Changes)
	return r
}

func (r *ReportView) set(rep *engine.Report) {
	r.Summary.SetText(ReportSummary(rep))
	r.changes = rep.Changes
	r.Changes.Refresh()
}

// ReportSummary says what a run did, or would do, per backend.
func ReportSummary(rep *engine.Report) string {
	if rep == nil {
		return ""
	}
	var b strings.Builder
	if rep.DryRun {
		b.WriteString("Dry run: nothing was written. ")
	}
	fmt.Fprintf(&b, "%s #%d: %s in %s.", strings.ToUpper(rep.Kind[:1])+rep.Kind[1:], rep.RunID, rep.Status,
		rep.Finished.Sub(rep.Started).Round(time.Millisecond))
	if len(rep.Backends) == 0 {
		b.WriteString("\nNo backend to work on: add one, or turn its import or export on.")
	}
	for _, br := range rep.Backends {
		fmt.Fprintf(&b, "\n%s %s (%s): %s read", br.Phase, br.Backend, br.Mode, commas(br.Read))
		if br.Watched+br.InProgress > 0 {
			fmt.Fprintf(&b, " (%s watched, %s in progress)", commas(br.Watched), commas(br.InProgress))
		}
		if br.Phase == "import" {
			fmt.Fprintf(&b, ", %s new", commas(br.Added))
		}
		fmt.Fprintf(&b, ", %s, %d skipped, %d failed", changedWord(br.Changed, rep.DryRun), br.Skipped, br.Failed)
		if br.Unmatched > 0 {
			fmt.Fprintf(&b, ", %d unmatched", br.Unmatched)
		}
		if br.Error != "" {
			b.WriteString(": " + br.Error)
		}
	}
	n := len(rep.Changes) + rep.MoreChanges
	added := 0
	for _, br := range rep.Backends {
		added += br.Added
	}
	switch {
	case n == 0 && added > 0:
		b.WriteString("\nNo changes to items already known (new items, with their play states, are counted above, not listed).")
	case n == 0:
		b.WriteString("\nNo changes.")
	case rep.DryRun:
		fmt.Fprintf(&b, "\nPlanned changes (%s):", commas(n))
	default:
		fmt.Fprintf(&b, "\nChanges (%s):", commas(n))
	}
	if rep.MoreChanges > 0 {
		fmt.Fprintf(&b, " the first %d are listed.", len(rep.Changes))
	}
	for _, h := range rep.Held {
		fmt.Fprintf(&b, "\nHeld: the export to %s would mark %d of its %d watched items unwatched; Activity → Held to apply or discard it.",
			h.Backend, h.Unwatches, h.Watched)
	}
	return b.String()
}

func changedWord(n int, dry bool) string {
	if dry {
		return commas(n) + " to change"
	}
	return commas(n) + " changed"
}

// ChangeText is one history entry: item, target, before -> after, why.
func ChangeText(c state.Change) string {
	s := fmt.Sprintf("%s  →  %s: %s → %s", c.Item, c.Target, c.Before, c.After)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	return s
}

// textList is a list of one-line labels, cut with an ellipsis: n is the
// row count, text the row's words.
func textList(n func() int, text func(i int) string) *widget.List {
	return widget.NewList(n,
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < n() {
				o.(*widget.Label).SetText(text(i))
			}
		})
}
