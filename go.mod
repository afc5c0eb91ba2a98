module playmark

go 1.26.8

// Direct dependencies, each for a reason (README, Development):
require (
	fyne.io/fyne/v2 v2.7.1 // the window and the tray (desktop.App)
	fyne.io/systray v1.12.2 // the tray, driven directly (Fyne's own tray keeps a GL window open); pinned (the proxy refuses @latest)
	github.com/adhocore/gronx v1.20.4 // cron parsing, validation and next run times
	github.com/coder/websocket v1.8.15 // live notification sockets; small, context-aware
	github.com/dustin/go-humanize v1.1.0 // "1,240" and "2 hours ago" in the window
	github.com/emersion/go-autostart v0.0.0-20210130080809-00ed301c8e9a // the XDG autostart entry; untagged, pinned
	github.com/godbus/dbus/v5 v5.2.4 // session-bus probe before the tray, Secret Service, tray test
	// Tokens in the Windows Credential Manager and the macOS Keychain. Not
	// on Linux: there our own Secret Service client stays, because
	// go-keyring's Linux side shows the keyring's unlock prompt and waits on
	// it with no time bound (a locked keyring would hold a scheduled sync;
	// ours fails fast as "unavailable"), and its items carry only service
	// and username attributes (ours also carry the config dir, so two
	// config dirs never share a token; secret-tool and the tests use them).
	github.com/zalando/go-keyring v0.2.8
	golang.org/x/sys v0.49.0 // LockFileEx: the run lock across processes on Windows (already there for Fyne and modernc)
	modernc.org/sqlite v1.62.0 // SQLite in pure Go: the local state without cgo
)

require (
	github.com/BurntSushi/toml v1.5.0 // indirect
	github.com/danieljoos/wincred v1.2.3 // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/fredbi/uri v1.1.1 // indirect
	github.com/fsnotify/fsnotify v1.9.0 // indirect
	github.com/fyne-io/gl-js v0.2.0 // indirect
	github.com/fyne-io/glfw-js v0.3.0 // indirect
	github.com/fyne-io/image v0.1.1 // indirect
	github.com/fyne-io/oksvg v0.2.0 // indirect
	github.com/go-gl/gl v0.0.0-20231021071112-07e5d0ea2e71 // indirect
	github.com/go-gl/glfw/v3.3/glfw v0.0.0-20240506104042-037f3cc74f2a // indirect
	github.com/go-text/render v0.2.0 // indirect
	github.com/go-text/typesetting v0.2.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hack-pad/go-indexeddb v0.3.2 // indirect
	github.com/hack-pad/safejs v0.1.0 // indirect
	github.com/jeandeaual/go-locale v0.0.0-20250612000132-0ef82f21eade // indirect
	github.com/jsummers/gobmp v0.0.0-20230614200233-a9de23ed2e25 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/nfnt/resize v0.0.0-20180221191011-83c6a9932646 // indirect
	github.com/nicksnyder/go-i18n/v2 v2.5.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/rymdport/portal v0.4.2 // indirect
	github.com/srwiley/oksvg v0.0.0-20221011165216-be6e8873101c // indirect
	github.com/srwiley/rasterx v0.0.0-20220730225603-2ab79fcdd4ef // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	github.com/yuin/goldmark v1.7.8 // indirect
	golang.org/x/image v0.24.0 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
