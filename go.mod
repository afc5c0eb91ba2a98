module playmark

go 1.26.8

require (
	github.com/adhocore/gronx v1.20.4
	modernc.org/sqlite v1.62.0
)

require (
	fyne.io/fyne/v2 v2.7.1 // indirect
	fyne.io/systray v1.12.2 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/emersion/go-autostart v0.0.0-20210130080809-00ed301c8e9a // indirect
	github.com/godbus/dbus/v5 v5.2.4 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	golang.org/x/sys v0.49.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
