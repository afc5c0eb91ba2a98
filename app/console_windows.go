//go:build windows

package app

import (
	"os"

	"golang.org/x/sys/windows"
)

// playmark.exe is a GUI program (-H windowsgui): started from the Start
// menu or at login it opens no console window. A command run from a
// console (cmd, PowerShell) then has no standard output of its own, so it
// attaches to the console it was started from and writes there. Output
// that is redirected (a pipe, a file, the tests under Wine) is used as
// it is. (cmd does not wait for a GUI program: its prompt may come back
// before the output; `start /wait playmark ...` waits.)
func init() {
	if len(os.Args) < 2 {
		return // the desktop app: no console
	}
	if h, err := windows.GetStdHandle(windows.STD_OUTPUT_HANDLE); err == nil && h != 0 && h != windows.InvalidHandle {
		return
	}
	const attachParentProcess = uintptr(^uint32(0)) // ATTACH_PARENT_PROCESS, (DWORD)-1
	attach := windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")
	if r, _, _ := attach.Call(attachParentProcess); r == 0 {
		return // not started from a console
	}
	if f, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0); err == nil {
		os.Stdout, os.Stderr = f, f
	}
	if f, err := os.OpenFile("CONIN$", os.O_RDONLY, 0); err == nil {
		os.Stdin = f
	}
}
