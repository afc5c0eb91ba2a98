package app

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// The ways a token comes in, safest first: standard input
// (--token-stdin), the environment (PLAYMARK_TOKEN), a hidden prompt on a
// terminal. --token TOKEN works too, but another local user reads it in
// /proc/PID/cmdline and it lands in the shell history.
const tokenEnv = "PLAYMARK_TOKEN"

// tokenHelp says how to give a token, for error messages.
const tokenHelp = "give it on standard input with --token-stdin, in $" + tokenEnv + ", or at the prompt on a terminal"

// token returns the token the user gave for backend name and whether one
// was given. required (backend add): without --token or --token-stdin,
// $PLAYMARK_TOKEN, else a hidden prompt when standard input is a terminal.
func (c *cli) token(f *backendFlags, set map[string]bool, name string, required bool) (string, bool, error) {
	if set["token"] && f.tokenStdin {
		return "", false, usagef("--token and --token-stdin together: give one")
	}
	var tok string
	switch {
	case f.tokenStdin:
		line, err := readLine(c.in())
		if err != nil {
			return "", false, usagef("--token-stdin: reading the token from standard input: %v", err)
		}
		tok = line
	case set["token"]:
		tok = f.token
	case !required:
		return "", false, nil
	case os.Getenv(tokenEnv) != "":
		tok = os.Getenv(tokenEnv)
	default:
		in, ok := c.in().(*os.File)
		if !ok || !isTerminal(in) {
			return "", false, usagef("backend add: the token is missing: %s", tokenHelp)
		}
		fmt.Fprintf(c.stderr, "Token for %s (not shown): ", name)
		line, err := readHidden(in)
		if err != nil {
			return "", false, usagef("backend add: reading the token: %v; %s", err, tokenHelp)
		}
		tok = line
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false, usagef("the token is empty")
	}
	return tok, true, nil
}

func (c *cli) in() io.Reader {
	if c.stdin != nil {
		return c.stdin
	}
	return os.Stdin
}

// readLine reads one line (without its end) from r, reading no further
// than the line: nothing after it is consumed from a file or pipe.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	var one [1]byte
	for b.Len() < 64<<10 {
		n, err := r.Read(one[:])
		if n == 1 {
			if one[0] == '\n' {
				return strings.TrimRight(b.String(), "\r"), nil
			}
			b.WriteByte(one[0])
		}
		if err == io.EOF {
			if b.Len() == 0 {
				return "", fmt.Errorf("nothing to read")
			}
			return strings.TrimRight(b.String(), "\r"), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("the line is too long for a token")
}
