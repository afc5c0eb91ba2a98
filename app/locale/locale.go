// Package locale makes the process's locale variables readable by Fyne
// before Fyne reads them.
//
// Fyne's lang package reads the locale in its init function, in every
// binary that imports Fyne, command line included, and logs three lines of
// "Fyne error: Error parsing user locale C" for values it cannot parse:
// C.UTF-8 (the default of Debian servers and containers), POSIX.UTF-8, or
// a modifier such as de_DE@euro. This package's init runs first: Go
// initialises packages in import-path order among those whose imports are
// ready, "playmark/app/locale" imports only os and strings, and Fyne's
// lang imports text/template, which sorts after it (TestNoLocaleNoise in
// app holds this). It sets LANGUAGE, which the locale library reads before
// the locale itself, to the same language in a form it parses ("en" for C
// and POSIX); LANGUAGE only picks message translations, so programs the
// process starts see the same language as before.
package locale

import (
	"os"
	"strings"
)

func init() { Fix() }

// Fix sets LANGUAGE when the locale variables hold a value that Fyne's
// locale library cannot parse. It reports whether it changed anything.
func Fix() bool {
	value := ""
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if value = os.Getenv(v); value != "" {
			break
		}
	}
	if value == "C" || value == "POSIX" {
		return false // read as "no locale": English, without a word
	}
	if l := os.Getenv("LANGUAGE"); l != "" {
		value = l
	}
	if value == "" {
		return false
	}
	var clean []string
	changed := false
	for _, entry := range strings.Split(value, ":") {
		tag, ok := tagOf(entry)
		if !ok {
			changed = true
			continue
		}
		if read, _, _ := strings.Cut(entry, "."); tag != strings.ReplaceAll(read, "-", "_") {
			changed = true // the library would read it otherwise: C.UTF-8 as "C"
		}
		clean = append(clean, tag)
	}
	if !changed {
		return false
	}
	if len(clean) == 0 {
		clean = []string{"en"}
	}
	os.Setenv("LANGUAGE", strings.Join(clean, ":"))
	return true
}

// tagOf turns a locale name (language[_territory][.codeset][@modifier])
// into language[_territory], "en" for C and POSIX; ok is false for an
// entry with no usable language.
func tagOf(entry string) (string, bool) {
	e, _, _ := strings.Cut(entry, "@")
	e, _, _ = strings.Cut(e, ".")
	if e == "C" || e == "POSIX" {
		return "en", true
	}
	lang, region, _ := strings.Cut(strings.ReplaceAll(e, "-", "_"), "_")
	if !letters(lang, 2, 8) || (region != "" && !alnum(region, 2, 8)) {
		return "", false
	}
	if region == "" {
		return lang, true
	}
	return lang + "_" + region, true
}

func letters(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

func alnum(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
