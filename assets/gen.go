//go:build ignore

// gen draws Playmark's icons: the app icon and one tray icon per state.
// Run it from this folder with `go generate` (or `go run gen.go`); it
// writes the PNGs that assets.go embeds.
//
// Every tray icon is a filled disc in a mid-tone colour with a darker rim
// and a bold glyph, so that it reads at 16-24 px on light and dark panels
// alike; the states differ by colour and by shape, never by colour alone.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

// shape says whether a point (in units of the icon's side, 0..1) is inside.
type shape func(x, y float64) bool

type layer struct {
	in shape
	c  color.NRGBA
}

func disc(cx, cy, r float64) shape {
	return func(x, y float64) bool { return math.Hypot(x-cx, y-cy) <= r }
}

func ring(cx, cy, r1, r2 float64) shape {
	return func(x, y float64) bool { d := math.Hypot(x-cx, y-cy); return d >= r1 && d <= r2 }
}

// capsule is a thick segment from (x1,y1) to (x2,y2) with round ends.
func capsule(x1, y1, x2, y2, w float64) shape {
	return func(x, y float64) bool {
		dx, dy := x2-x1, y2-y1
		t := ((x-x1)*dx + (y-y1)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		return math.Hypot(x-(x1+t*dx), y-(y1+t*dy)) <= w/2
	}
}

// poly is a convex polygon, corners in either winding.
func poly(pts ...[2]float64) shape {
	return func(x, y float64) bool {
		sign := 0.0
		for i := range pts {
			a, b := pts[i], pts[(i+1)%len(pts)]
			c := (b[0]-a[0])*(y-a[1]) - (b[1]-a[1])*(x-a[0])
			if c == 0 {
				continue
			}
			if sign == 0 {
				sign = c
			} else if (c > 0) != (sign > 0) {
				return false
			}
		}
		return true
	}
}

func roundRect(x0, y0, x1, y1, r float64) shape {
	return func(x, y float64) bool {
		cx := math.Max(x0+r, math.Min(x1-r, x))
		cy := math.Max(y0+r, math.Min(y1-r, y))
		return math.Hypot(x-cx, y-cy) <= r
	}
}

// arc is a ring sector from angle a0 to a1 (radians, clockwise from the
// top, as a clock face).
func arc(cx, cy, r1, r2, a0, a1 float64) shape {
	in := ring(cx, cy, r1, r2)
	return func(x, y float64) bool {
		if !in(x, y) {
			return false
		}
		a := math.Atan2(x-cx, -(y - cy))
		if a < 0 {
			a += 2 * math.Pi
		}
		return a >= a0 && a <= a1
	}
}

func union(ss ...shape) shape {
	return func(x, y float64) bool {
		for _, s := range ss {
			if s(x, y) {
				return true
			}
		}
		return false
	}
}

func hex(s string) color.NRGBA {
	var v uint32
	for _, r := range s[1:] {
		v <<= 4
		switch {
		case r >= '0' && r <= '9':
			v |= uint32(r - '0')
		case r >= 'a' && r <= 'f':
			v |= uint32(r-'a') + 10
		case r >= 'A' && r <= 'F':
			v |= uint32(r-'A') + 10
		}
	}
	return color.NRGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}
}

// render paints the layers, each anti-aliased with 8x8 samples a pixel.
func render(size int, layers []layer) *image.NRGBA {
	const ss = 8
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64 // premultiplied
			for _, l := range layers {
				n := 0
				for sy := 0; sy < ss; sy++ {
					for sx := 0; sx < ss; sx++ {
						x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
						y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
						if l.in(x, y) {
							n++
						}
					}
				}
				cov := float64(n) / (ss * ss) * float64(l.c.A) / 255
				r = float64(l.c.R)*cov + r*(1-cov)
				g = float64(l.c.G)*cov + g*(1-cov)
				b = float64(l.c.B)*cov + b*(1-cov)
				a = cov + a*(1-cov)
			}
			if a > 0 {
				img.SetNRGBA(px, py, color.NRGBA{uint8(r/a + 0.5), uint8(g/a + 0.5), uint8(b/a + 0.5), uint8(a*255 + 0.5)})
			}
		}
	}
	return img
}

func save(name string, img image.Image) {
	f, err := os.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// badge is the disc every tray icon stands on.
func badge(fill, rim string, glyph shape, glyphColor string) []layer {
	return []layer{
		{disc(0.5, 0.5, 0.485), hex(rim)},
		{disc(0.5, 0.5, 0.425), hex(fill)},
		{glyph, hex(glyphColor)},
	}
}

var (
	check = union(capsule(0.27, 0.52, 0.43, 0.68, 0.13), capsule(0.43, 0.68, 0.74, 0.34, 0.13))
	pause = union(roundRect(0.32, 0.28, 0.44, 0.72, 0.03), roundRect(0.56, 0.28, 0.68, 0.72, 0.03))
	bang  = union(capsule(0.5, 0.25, 0.5, 0.56, 0.14), disc(0.5, 0.73, 0.075))
	cross = union(capsule(0.32, 0.32, 0.68, 0.68, 0.14), capsule(0.68, 0.32, 0.32, 0.68, 0.14))
	// Two arrows chasing each other round a circle.
	syncing = union(
		arc(0.5, 0.5, 0.19, 0.30, 0.15, math.Pi-0.55),
		arc(0.5, 0.5, 0.19, 0.30, math.Pi+0.15, 2*math.Pi-0.55),
		arrowHead(math.Pi-0.55),
		arrowHead(2*math.Pi-0.55),
	)
)

// arrowHead is a triangle at angle a on the sync ring, pointing clockwise.
func arrowHead(a float64) shape {
	at := func(r, ang float64) [2]float64 { return [2]float64{0.5 + r*math.Sin(ang), 0.5 - r*math.Cos(ang)} }
	return poly(at(0.12, a), at(0.37, a), at(0.245, a+0.55))
}

func main() {
	const tray = 64
	save("tray-ok.png", render(tray, badge("#00897B", "#004D40", check, "#FFFFFF")))
	save("tray-syncing.png", render(tray, badge("#1E88E5", "#0D47A1", syncing, "#FFFFFF")))
	save("tray-paused.png", render(tray, badge("#78909C", "#37474F", pause, "#FFFFFF")))
	save("tray-warning.png", render(tray, badge("#FFB300", "#8D5A00", bang, "#3E2723")))
	save("tray-error.png", render(tray, badge("#E53935", "#8E0000", cross, "#FFFFFF")))

	// The app icon: a rounded tile with a play button and a "watched" tick.
	tile := roundRect(0.04, 0.04, 0.96, 0.96, 0.2)
	play := poly([2]float64{0.27, 0.22}, [2]float64{0.27, 0.70}, [2]float64{0.65, 0.46})
	tick := union(capsule(0.635, 0.765, 0.70, 0.83, 0.055), capsule(0.70, 0.83, 0.83, 0.67, 0.055))
	save("icon.png", render(256, []layer{
		{tile, hex("#00695C")},
		{play, hex("#FFFFFF")},
		{disc(0.73, 0.75, 0.175), hex("#004D40")},
		{disc(0.73, 0.75, 0.145), hex("#FFB300")},
		{tick, hex("#3E2723")},
	}))
}
