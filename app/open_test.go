package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"playmark/sync/state"
)

// openCore is the one opener of a config dir: writable with a scheduler
// and the log in playmark.log (and in any extra handler, as the daemon's
// lines and --verbose are); read-only with no scheduler and a store that
// refuses writes; and Close lets go of the log file as well as the store.
func TestOpenCore(t *testing.T) {
	t.Setenv("PLAYMARK_KEYRING", "off")
	ctx := context.Background()
	dir := t.TempDir()

	var also bytes.Buffer
	core, err := openCore(ctx, dir, coreOptions{Also: []slog.Handler{slog.NewTextHandler(&also, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if core.Sched == nil || core.Engine == nil || core.Dir != dir {
		t.Errorf("writable core: sched %v, engine %v, dir %q", core.Sched, core.Engine, core.Dir)
	}
	core.Log.Info("hello from the test")
	if err := core.Store.SetTask(ctx, state.Task{Name: "import", Cron: "0 * * * *", Enabled: true}); err != nil {
		t.Errorf("a write through the writable core: %v", err)
	}
	if err := core.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := core.LogFile().Write([]byte("after close\n")); err == nil {
		t.Error("the log file is still open after Close")
	}
	logged, _ := os.ReadFile(filepath.Join(dir, "playmark.log"))
	if !strings.Contains(string(logged), "hello from the test") || strings.Contains(string(logged), "after close") {
		t.Errorf("playmark.log:\n%s", logged)
	}
	if !strings.Contains(also.String(), "hello from the test") {
		t.Errorf("the extra handler got %q", also.String())
	}

	ro, err := openCore(ctx, dir, coreOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.Sched != nil {
		t.Error("a read-only core has a scheduler")
	}
	tasks, err := ro.Store.Tasks(ctx)
	if err != nil || len(tasks) == 0 || tasks[0].Cron != "0 * * * *" {
		t.Errorf("read through the read-only core: %+v, %v", tasks, err)
	}
	if err := ro.Store.SetTask(ctx, state.Task{Name: "import", Cron: "5 * * * *"}); !errors.Is(err, state.ErrReadOnly) {
		t.Errorf("a write through the read-only core: %v, want state.ErrReadOnly", err)
	}
}
