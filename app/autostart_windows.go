//go:build windows && !headless

package app

import "syscall"

// loginArgs quotes the arguments after the program for go-autostart's
// Windows shortcut (Startup\playmark.lnk), which joins them with spaces
// as they are: a config dir with a space in it ("C:\Users\Ana Lima\...")
// must stay one argument.
func loginArgs(args []string) []string {
	out := []string{args[0]}
	for _, a := range args[1:] {
		out = append(out, syscall.EscapeArg(a))
	}
	return out
}
