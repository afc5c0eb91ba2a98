//go:build headless

package app

import (
	"bytes"
	"strings"
	"testing"
)

// The headless build has no window: playmark with no command says so and
// what to run instead, whatever the display.
func TestHeadlessDesktopSaysWhatToDo(t *testing.T) {
	t.Setenv("DISPLAY", ":0")
	var out, errb bytes.Buffer
	code := run([]string{"--config-dir", t.TempDir()}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "headless build") || !strings.Contains(errb.String(), "playmark daemon") {
		t.Errorf("headless desktop: exit %d, stderr %q", code, errb.String())
	}
}
