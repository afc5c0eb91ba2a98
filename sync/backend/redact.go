package backend

import (
	"net/url"
	"strings"
)

// Redacted is what Redact puts in place of a secret.
const Redacted = "[redacted]"

// Redact removes every secret from s, as written and URL-escaped, so that
// an error text can be stored or shown whatever a server echoed into it.
// Secrets shorter than 6 characters are left alone: replacing them would
// garble ordinary words and hide nothing worth hiding.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < 6 {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if strings.Contains(s, form) {
				s = strings.ReplaceAll(s, form, Redacted)
			}
		}
	}
	return s
}
