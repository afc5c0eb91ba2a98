// Command mkico writes Playmark's app icon as an .ico (the 256x256 PNG in
// an .ico container) for the Windows resources and the installer:
//
//	go run ./packaging/windows/mkico OUT.ico
package main

import (
	"fmt"
	"os"

	"playmark/assets"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkico OUT.ico")
		os.Exit(2)
	}
	ico, err := assets.ICO(assets.Icon, assets.TrayOK)
	if err == nil {
		err = os.WriteFile(os.Args[1], ico, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkico:", err)
		os.Exit(1)
	}
}
