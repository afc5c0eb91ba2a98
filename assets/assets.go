// Package assets holds Playmark's embedded images: the app icon and one
// tray icon per state. The PNGs are drawn by gen.go (go generate); the
// bytes are plain PNG, so that any toolkit can use them.
package assets

import _ "embed"

//go:generate go run gen.go

// Icon is the app icon, 256x256 PNG.
//
//go:embed icon.png
var Icon []byte

// Tray icons, 64x64 PNG, one per state of the tray.
var (
	//go:embed tray-ok.png
	TrayOK []byte
	//go:embed tray-syncing.png
	TraySyncing []byte
	//go:embed tray-paused.png
	TrayPaused []byte
	//go:embed tray-warning.png
	TrayWarning []byte
	//go:embed tray-error.png
	TrayError []byte
)
