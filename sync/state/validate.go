package state

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"playmark/sync/backend"
)

// ErrInvalid is a backend configuration that breaks a rule (name, URL,
// kind, import mode): the store refuses it, the CLI and the window show
// the wrapped sentence.
var ErrInvalid = errors.New("backend configuration is not valid")

// invalid is an ErrInvalid whose message is the rule's sentence alone.
type invalid struct{ msg string }

func (e invalid) Error() string        { return e.msg }
func (e invalid) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, a ...any) error { return invalid{fmt.Sprintf(format, a...)} }

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateName checks a backend name: 1-64 letters, digits, '.', '_' or
// '-', starting with a letter or digit. The error is ErrInvalid (errors.Is).
func ValidateName(name string) error {
	if !nameRe.MatchString(name) {
		return invalidf("backend name %q is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// NormalizeURL checks a server URL (http or https, a host, no user,
// query or fragment) and returns it normalised: no surrounding space, no
// trailing slash. The error is ErrInvalid (errors.Is).
func NormalizeURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", invalidf("URL %q is not valid: want http://host:port or https://host (for example http://192.168.1.10:32400)", raw)
	}
	if u.User != nil {
		return "", invalidf("URL %q must not carry a user or password: use --token", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", invalidf("URL %q must not have a query or fragment", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Validate checks the configuration's rules: a valid name, a normalised
// http(s) URL, a known kind and a known import mode ("" is full). The
// error is ErrInvalid (errors.Is).
func (b Backend) Validate() error {
	if err := ValidateName(b.Name); err != nil {
		return err
	}
	u, err := NormalizeURL(b.URL)
	if err != nil {
		return err
	}
	if u != b.URL {
		return invalidf("URL %q is not in its normal form %q", b.URL, u)
	}
	if _, err := backend.ParseKind(string(b.Kind)); err != nil {
		return invalid{err.Error()}
	}
	if b.Import != "" {
		if _, err := ParseImportMode(string(b.Import)); err != nil {
			return invalid{err.Error()}
		}
	}
	return nil
}
