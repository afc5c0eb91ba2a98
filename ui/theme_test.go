package ui

import (
	"image/color"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Text meets WCAG AA (4.5:1) on the backgrounds it sits on, in both
// variants of the theme the window uses: help text (low-importance
// labels), ordinary text, errors and placeholders.
func TestThemeContrast(t *testing.T) {
	e := newEnv(t)
	th := e.app.Settings().Theme()
	// The help text is a low-importance label: Fyne draws it in the
	// disabled colour (checked here, so that a Fyne that changes this
	// fails the test rather than passing it unread).
	help := e.u.Window.Settings.BackupNote
	if help.Importance != widget.LowImportance {
		t.Fatalf("help text importance %v", help.Importance)
	}
	texts := map[string]fyne.ThemeColorName{
		"help text": theme.ColorNameDisabled, "text": theme.ColorNameForeground, "error": theme.ColorNameError,
	}
	backs := []fyne.ThemeColorName{theme.ColorNameBackground, theme.ColorNameOverlayBackground, theme.ColorNameHeaderBackground}
	for _, v := range []fyne.ThemeVariant{theme.VariantDark, theme.VariantLight} {
		for what, fg := range texts {
			for _, bg := range backs {
				if r := contrast(th.Color(fg, v), th.Color(bg, v)); r < 4.5 {
					t.Errorf("variant %d: %s (%s %v) on %s %v: contrast %.2f, want at least 4.5", v, what, fg, th.Color(fg, v), bg, th.Color(bg, v), r)
				}
			}
		}
		if r := contrast(th.Color(theme.ColorNamePlaceHolder, v), th.Color(theme.ColorNameInputBackground, v)); r < 4.5 {
			t.Errorf("variant %d: placeholder on an entry: contrast %.2f", v, r)
		}
	}
}

func TestContrastRatio(t *testing.T) {
	white := colorOf(0xff, 0xff, 0xff)
	if r := contrast(white, white); r != 1 {
		t.Errorf("white on white %.2f, want 1", r)
	}
	if r := contrast(colorOf(0, 0, 0), white); r < 20.9 || r > 21.1 {
		t.Errorf("black on white %.2f, want 21", r)
	}
	// Fyne's own dark "disabled" grey on its dark background: 1.55.
	if r := contrast(colorOf(0x39, 0x39, 0x3a), colorOf(0x17, 0x17, 0x18)); r < 1.5 || r > 1.6 {
		t.Errorf("#39393a on #171718 %.2f, want 1.55", r)
	}
}

func colorOf(r, g, b uint8) color.NRGBA { return color.NRGBA{R: r, G: g, B: b, A: 0xff} }
