package backend

import (
	"net/http"
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

// RedactError is err with Redact applied to its text; errors.Is and
// errors.As still see err. It is err itself when there is nothing to
// remove.
func RedactError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	if msg := Redact(err.Error(), secrets...); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// credentialHeaders carry a token whole; the Authorization forms carry it
// as Token="...".
var credentialHeaders = []string{"X-Plex-Token", "X-Emby-Token", "X-MediaBrowser-Token"}

// credentialParams are the query parameters that carry a token.
var credentialParams = []string{"api_key", "ApiKey", "X-Plex-Token"}

// RequestSecrets are the credentials req carries, in its headers or its
// query, so that whatever the server answers can be cleaned of them.
func RequestSecrets(req *http.Request) []string {
	var out []string
	for _, h := range credentialHeaders {
		if v := req.Header.Get(h); v != "" {
			out = append(out, v)
		}
	}
	for _, h := range []string{"Authorization", "X-Emby-Authorization"} {
		v := req.Header.Get(h)
		if i := strings.Index(v, `Token="`); i >= 0 {
			rest := v[i+len(`Token="`):]
			if j := strings.IndexByte(rest, '"'); j >= 0 {
				tok := rest[:j]
				if u, err := url.QueryUnescape(tok); err == nil {
					tok = u
				}
				out = append(out, tok)
			}
		}
	}
	q := req.URL.Query()
	for _, p := range credentialParams {
		if v := q.Get(p); v != "" {
			out = append(out, v)
		}
	}
	return out
}
