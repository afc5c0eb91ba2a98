package app

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCLITasksAsANewUser(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := pm(t, dir, "tasks", "set", "import", "--cron", "0 */6 * * *", "--on")
	if code != 0 || !strings.Contains(out, "import: on") {
		t.Fatalf("tasks set: %d %q %q", code, out, stderr)
	}
	code, out, _ = pm(t, dir, "tasks")
	if code != 0 || !strings.Contains(out, "import  on     0 */6 * * *") {
		t.Errorf("tasks shows:\n%s", out)
	}
	var tasks []struct {
		Name    string
		Enabled bool
		Next    []string
	}
	_, out, _ = pm(t, dir, "tasks", "--json")
	if err := json.Unmarshal([]byte(out), &tasks); err != nil || len(tasks) != 2 || !tasks[0].Enabled || len(tasks[0].Next) != 3 {
		t.Errorf("tasks --json = %s (%v)", out, err)
	}
}
