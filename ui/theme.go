package ui

import (
	"image/color"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// appTheme is Fyne's default theme with readable help text: the default
// "disabled" grey, which Fyne uses for low-importance labels (Playmark's
// help text), is #39393a on the dark background (a contrast of 1.5:1)
// and #e3e3e3 on the light one (1.3:1); the light theme's placeholder
// and error red are below 4.5:1 too. These colours meet WCAG AA (4.5:1)
// on the backgrounds text sits on, in both variants
// (TestThemeContrast).
type appTheme struct{ fyne.Theme }

// Theme is Playmark's theme.
func Theme() fyne.Theme { return appTheme{theme.DefaultTheme()} }

var (
	darkHint   = color.NRGBA{R: 0x99, G: 0x99, B: 0x9b, A: 0xff}
	lightHint  = color.NRGBA{R: 0x6b, G: 0x6b, B: 0x6b, A: 0xff}
	lightError = color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}
)

func (t appTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	switch {
	case n == theme.ColorNameDisabled && v == theme.VariantDark:
		return darkHint
	case (n == theme.ColorNameDisabled || n == theme.ColorNamePlaceHolder) && v == theme.VariantLight:
		return lightHint
	case n == theme.ColorNameError && v == theme.VariantLight:
		return lightError
	}
	return t.Theme.Color(n, v)
}

// contrast is the WCAG contrast ratio of two opaque colours (1 to 21).
func contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is a colour's WCAG relative luminance.
func luminance(c color.Color) float64 {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(n.R) + 0.7152*lin(n.G) + 0.0722*lin(n.B)
}
