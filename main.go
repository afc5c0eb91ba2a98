// Command playmark keeps watched marks and resume positions in step across
// Plex, Jellyfin and Emby servers. With no arguments it starts the desktop
// app (window and tray); with a command it runs that command (see
// playmark help).
package main

import (
	"os"

	"playmark/app"
	_ "playmark/app/locale" // before Fyne reads the locale (see the package)
)

func main() {
	os.Exit(app.Main(os.Args[1:]))
}
