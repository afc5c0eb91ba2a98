package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"playmark/sync/backend"
	"playmark/sync/secret"
)

// memKeyring is a secret.Keyring in memory, for tests only. It keeps the
// contract of the real one: Get of a missing secret is ErrNotFound,
// Delete of one is nil, and a locked keyring fails everything with
// ErrUnavailable.
type memKeyring struct {
	mu      sync.Mutex
	m       map[string]string
	locked  bool
	failSet map[string]bool // names whose Set fails
	gets    int
	closed  bool
}

var _ secret.Keyring = (*memKeyring)(nil)

func newMemKeyring() *memKeyring {
	return &memKeyring{m: map[string]string{}, failSet: map[string]bool{}}
}

func (k *memKeyring) Set(_ context.Context, backend, s string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.locked || k.failSet[backend] {
		return fmt.Errorf("%w: the keyring is locked", secret.ErrUnavailable)
	}
	k.m[backend] = s
	return nil
}

func (k *memKeyring) Get(_ context.Context, backend string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gets++
	if k.locked {
		return "", fmt.Errorf("%w: the keyring is locked", secret.ErrUnavailable)
	}
	s, ok := k.m[backend]
	if !ok {
		return "", secret.ErrNotFound
	}
	return s, nil
}

func (k *memKeyring) Delete(_ context.Context, backend string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.locked {
		return fmt.Errorf("%w: the keyring is locked", secret.ErrUnavailable)
	}
	delete(k.m, backend)
	return nil
}

func (k *memKeyring) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	return nil
}

func (k *memKeyring) get(name string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.m[name]
	return s, ok
}

func (k *memKeyring) setLocked(l bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.locked = l
}

func (k *memKeyring) getCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gets
}

// openWith opens the store in dir with keyring k (nil: none).
func openWith(t *testing.T, dir string, k secret.Keyring) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if k != nil {
		if err := s.SetKeyring(context.Background(), k); err != nil {
			t.Fatalf("SetKeyring: %v", err)
		}
	}
	return s
}

// onDisk reports which of the secrets appear anywhere in the files of the
// config dir: the database, its write-ahead log, its shared memory.
func onDisk(t *testing.T, dir string, secrets ...string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, FileName+"*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files in %s: %v", dir, err)
	}
	var found []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, s+" in "+filepath.Base(f))
			}
		}
	}
	return found
}

func tokenColumnOf(t *testing.T, s *Store, name string) string {
	t.Helper()
	var col string
	if err := s.DB().QueryRow(`SELECT token FROM backends WHERE name=?`, name).Scan(&col); err != nil {
		t.Fatal(err)
	}
	return col
}

// With a keyring, tokens go there and only a marker reaches the database
// file; reads give the token back.
func TestKeyringTokenNeverInDatabase(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	k := newMemKeyring()
	s := openWith(t, dir, k)
	const tok1, tok2 = "plex-token-1f0c9a7e", "plex-token-2b77d310"
	b, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: tok1})
	if err != nil {
		t.Fatal(err)
	}
	if !b.TokenInKeyring || b.Token != tok1 {
		t.Errorf("AddBackend returned token %q, in keyring %v", b.Token, b.TokenInKeyring)
	}
	if got, _ := k.get("plex"); got != tok1 {
		t.Errorf("keyring holds %q, want the token", got)
	}
	b.Token = tok2
	b.URL = "http://y"
	if err := s.UpdateBackend(ctx, b); err != nil {
		t.Fatal(err)
	}
	if col := tokenColumnOf(t, s, "plex"); !strings.HasPrefix(col, "keyring:") {
		t.Errorf("token column %q, want a keyring marker", col)
	}
	if found := onDisk(t, dir, tok1, tok2); len(found) > 0 {
		t.Errorf("token on disk while open: %v", found)
	}
	got, err := s.Backend(ctx, "plex")
	if err != nil || got.Token != tok2 || !got.TokenInKeyring || got.URL != "http://y" {
		t.Errorf("Backend = %+v, %v; want the new token, from the keyring", got, err)
	}
	s.Close()
	if !k.closed {
		t.Error("Close did not close the keyring")
	}
	if found := onDisk(t, dir, tok1, tok2); len(found) > 0 {
		t.Errorf("token on disk after close: %v", found)
	}

	// A new store (a new process) reads it back from the keyring.
	s2 := openWith(t, dir, k)
	bs, err := s2.Backends(ctx)
	if err != nil || len(bs) != 1 || bs[0].Token != tok2 || !bs[0].TokenInKeyring {
		t.Fatalf("Backends = %+v, %v", bs, err)
	}
}

// Tokens saved before the keyring are moved into it at the first open
// with one, and no copy stays in the database file.
func TestKeyringMovesExistingTokens(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	s := openWith(t, dir, nil)
	toks := map[string]string{"plex": "old-plex-token-7d1e", "jellyfin": "old-jellyfin-key-93ac"}
	for name, tok := range toks {
		if _, err := s.AddBackend(ctx, Backend{Name: name, Kind: backend.Kind(name), URL: "http://x", Token: tok}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddBackend(ctx, Backend{Name: "emby", Kind: "emby", URL: "http://x"}); err != nil { // no token at all
		t.Fatal(err)
	}
	if b, _ := s.Backend(ctx, "plex"); b.TokenInKeyring {
		t.Error("TokenInKeyring without a keyring")
	}
	s.Close()
	if found := onDisk(t, dir, toks["plex"], toks["jellyfin"]); len(found) != 2 {
		t.Fatalf("plain tokens not found on disk before the move (%v): the check below would prove nothing", found)
	}

	k := newMemKeyring()
	s = openWith(t, dir, k)
	for name, tok := range toks {
		if got, _ := k.get(name); got != tok {
			t.Errorf("keyring has %q for %s, want %q", got, name, tok)
		}
		if col := tokenColumnOf(t, s, name); !strings.HasPrefix(col, "keyring:") {
			t.Errorf("%s: token column %q, want a marker", name, col)
		}
		b, err := s.Backend(ctx, name)
		if err != nil || b.Token != tok || !b.TokenInKeyring {
			t.Errorf("Backend(%s) = %q, %v, %v", name, b.Token, b.TokenInKeyring, err)
		}
	}
	if col := tokenColumnOf(t, s, "emby"); col != "" {
		t.Errorf("emby had no token, now %q", col)
	}
	if _, ok := k.get("emby"); ok {
		t.Error("an empty token was put in the keyring")
	}
	// Overwriting the column leaves the old cell in the page's free space
	// (SQLite's secure_delete is off): only the rewrite of the file after
	// the move clears it, as this check fails without it.
	if found := onDisk(t, dir, toks["plex"], toks["jellyfin"]); len(found) > 0 {
		t.Errorf("moved tokens still on disk: %v", found)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
	s.Close()
	if found := onDisk(t, dir, toks["plex"], toks["jellyfin"]); len(found) > 0 {
		t.Errorf("moved tokens on disk after close: %v", found)
	}

	// A second open with the keyring has nothing to move.
	s = openWith(t, dir, k)
	if b, err := s.Backend(ctx, "jellyfin"); err != nil || b.Token != toks["jellyfin"] {
		t.Errorf("after reopen: %q, %v", b.Token, err)
	}
}

// A token the keyring will not take stays in the database, usable, and
// the error names its backend; the others move.
func TestKeyringMovePartly(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	s := openWith(t, dir, nil)
	addPlexAndJellyfin(t, s)
	s.Close()
	k := newMemKeyring()
	k.failSet["plex"] = true
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.SetKeyring(ctx, k)
	if err == nil || !strings.Contains(err.Error(), `"plex"`) || !errors.Is(err, secret.ErrUnavailable) {
		t.Fatalf("SetKeyring: %v; want an error naming plex", err)
	}
	if col := tokenColumnOf(t, s, "plex"); col != "plex-tok" {
		t.Errorf("plex column %q, want its token kept", col)
	}
	if col := tokenColumnOf(t, s, "jellyfin"); !strings.HasPrefix(col, "keyring:") {
		t.Errorf("jellyfin column %q, want moved", col)
	}
	bs, err := s.Backends(ctx)
	if err != nil || len(bs) != 2 || bs[0].Token != "jellyfin-tok" || bs[1].Token != "plex-tok" || bs[1].TokenInKeyring {
		t.Errorf("Backends = %+v, %v", bs, err)
	}
}

// A store without a keyring that meets markers fails each read loudly,
// naming the backend, and never hands out the marker or an empty token.
func TestKeyringMarkersWithoutKeyring(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	k := newMemKeyring()
	s := openWith(t, dir, k)
	addPlexAndJellyfin(t, s)
	s.Close()

	s = openWith(t, dir, nil)
	b, err := s.Backend(ctx, "plex")
	if !errors.Is(err, ErrTokenUnavailable) || !strings.Contains(err.Error(), `backend "plex": token is in the system keyring, which is not available`) {
		t.Errorf("Backend: %v; want ErrTokenUnavailable naming plex", err)
	}
	if b.Token != "" || !b.TokenInKeyring {
		t.Errorf("Backend gave token %q with its error", b.Token)
	}
	bs, err := s.Backends(ctx)
	if bs != nil || !errors.Is(err, ErrTokenUnavailable) || !strings.Contains(err.Error(), `"plex"`) || !strings.Contains(err.Error(), `"jellyfin"`) {
		t.Errorf("Backends = %v, %v; want an error naming both", bs, err)
	}
	t.Logf("the user reads: %v", err)
	// Removing still works; the secret is left where it is.
	if err := s.RemoveBackend(ctx, "plex"); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.get("plex"); !ok {
		t.Error("a store without the keyring deleted from it")
	}
}

// A locked keyring: reads fail naming the backend; saving a backend does
// not depend on it (the token waits in the database and moves at the
// next start); removing one neither.
func TestKeyringLocked(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	k := newMemKeyring()
	s := openWith(t, dir, k)
	for _, name := range []string{"plex", "jellyfin"} {
		if _, err := s.AddBackend(ctx, Backend{Name: name, Kind: backend.Kind(name), URL: "http://x", Token: name + "-tok-a", Import: ImportFull}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	k.setLocked(true)

	s = openWith(t, dir, k) // nothing to move, so SetKeyring succeeds
	_, err := s.Backend(ctx, "plex")
	if !errors.Is(err, ErrTokenUnavailable) || !errors.Is(err, secret.ErrUnavailable) || !strings.Contains(err.Error(), `backend "plex"`) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("Backend from a locked keyring: %v", err)
	}
	t.Logf("the user reads: %v", err)
	if _, err := s.Backends(ctx); !errors.Is(err, ErrTokenUnavailable) {
		t.Errorf("Backends from a locked keyring: %v", err)
	}

	b, err := s.AddBackend(ctx, Backend{Name: "emby", Kind: "emby", URL: "http://x", Token: "emby-tok"})
	if err != nil || b.TokenInKeyring || b.Token != "emby-tok" {
		t.Errorf("AddBackend with a locked keyring = %+v, %v; want it saved, its token in the database", b, err)
	}
	var id int64
	s.DB().QueryRow(`SELECT id FROM backends WHERE name='plex'`).Scan(&id)
	if err := s.UpdateBackend(ctx, Backend{ID: id, Name: "plex", Kind: "plex", URL: "http://changed", Token: "plex-tok-b", Import: ImportFull}); err != nil {
		t.Errorf("UpdateBackend with a locked keyring: %v", err)
	}
	if b, err := s.Backend(ctx, "plex"); err != nil || b.Token != "plex-tok-b" || b.URL != "http://changed" || b.TokenInKeyring {
		t.Errorf("after the update: %+v, %v", b, err)
	}
	if err := s.RemoveBackend(ctx, "jellyfin"); err != nil {
		t.Errorf("RemoveBackend with a locked keyring: %v", err)
	}
	s.Close()

	// Unlocked, the next start moves the waiting tokens; the stale secret
	// of plex is replaced.
	k.setLocked(false)
	s = openWith(t, dir, k)
	for name, tok := range map[string]string{"plex": "plex-tok-b", "emby": "emby-tok"} {
		if b, err := s.Backend(ctx, name); err != nil || b.Token != tok || !b.TokenInKeyring {
			t.Errorf("%s after unlocking: %q, %v, %v", name, b.Token, b.TokenInKeyring, err)
		}
		if got, _ := k.get(name); got != tok {
			t.Errorf("keyring has %q for %s", got, name)
		}
	}
	s.Close()
	if found := onDisk(t, dir, "plex-tok-b", "emby-tok"); len(found) > 0 {
		t.Errorf("tokens on disk after the move: %v", found)
	}
}

// RemoveBackend deletes the secret; a secret deleted behind Playmark's
// back is a clear error, not an empty token.
func TestKeyringRemoveAndMissing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	k := newMemKeyring()
	s := openWith(t, dir, k)
	addPlexAndJellyfin(t, s)
	if err := s.RemoveBackend(ctx, "plex"); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.get("plex"); ok {
		t.Error("RemoveBackend left the secret in the keyring")
	}
	if err := s.RemoveBackend(ctx, "plex"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}

	k.Delete(ctx, "jellyfin")
	s2 := openWith(t, dir, k) // another process: nothing cached
	_, err := s2.Backend(ctx, "jellyfin")
	if !errors.Is(err, ErrTokenUnavailable) || !strings.Contains(err.Error(), `backend "jellyfin"`) || !strings.Contains(err.Error(), "missing from the system keyring") || !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Backend with its secret gone: %v", err)
	}
}

// A name taken already fails with ErrExists and leaves the other
// backend's secret alone; a rename moves the secret.
func TestKeyringExistsAndRename(t *testing.T) {
	ctx := context.Background()
	k := newMemKeyring()
	s := openWith(t, filepath.Join(t.TempDir(), "cfg"), k)
	b, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "second"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if got, _ := k.get("plex"); got != "first" {
		t.Errorf("a refused duplicate overwrote the secret with %q", got)
	}
	b.Name = "living-room"
	if err := s.UpdateBackend(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.get("plex"); ok {
		t.Error("the old name's secret is still there")
	}
	if got, _ := k.get("living-room"); got != "first" {
		t.Errorf("new name's secret %q", got)
	}
	if got, err := s.Backend(ctx, "living-room"); err != nil || got.Token != "first" {
		t.Errorf("renamed: %q, %v", got.Token, err)
	}
}

// Reads are served from the cache until the token is saved again, by this
// store or another one (another process) on the same dir.
func TestKeyringCache(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	k := newMemKeyring()
	a := openWith(t, dir, k)
	other := openWith(t, dir, k)
	b, err := a.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if got, err := a.Backend(ctx, "plex"); err != nil || got.Token != "t1" {
			t.Fatalf("read %d: %q, %v", i, got.Token, err)
		}
	}
	if n := k.getCount(); n != 0 {
		t.Errorf("%d keyring reads for a token this store saved, want 0", n)
	}
	// Saving other settings keeps the token where it is.
	b.Export = true
	if err := a.UpdateBackend(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Another process changes the token.
	ob, err := other.Backend(ctx, "plex")
	if err != nil || ob.Token != "t1" {
		t.Fatalf("other: %q, %v", ob.Token, err)
	}
	ob.Token = "t2"
	if err := other.UpdateBackend(ctx, ob); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Backend(ctx, "plex"); err != nil || got.Token != "t2" || !got.Export {
		t.Errorf("after another store's save: %q, %v; want t2", got.Token, err)
	}
	reads := k.getCount()
	a.Backends(ctx)
	a.Backend(ctx, "plex")
	if k.getCount() != reads {
		t.Error("cached token read from the keyring again")
	}
}

// A marker is never saved as a token.
func TestKeyringMarkerIsNotAToken(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, filepath.Join(t.TempDir(), "cfg"), nil)
	if _, err := s.AddBackend(ctx, Backend{Name: "plex", Kind: "plex", URL: "http://x", Token: "keyring:0011"}); err == nil {
		t.Error("AddBackend took a marker for a token")
	}
}

// addPlexAndJellyfin adds backends plex and jellyfin to s, with the
// tokens plex-tok and jellyfin-tok.
func addPlexAndJellyfin(t *testing.T, s *Store) {
	t.Helper()
	for _, name := range []string{"plex", "jellyfin"} {
		if _, err := s.AddBackend(context.Background(), Backend{Name: name, Kind: backend.Kind(name), URL: "http://x", Token: name + "-tok"}); err != nil {
			t.Fatal(err)
		}
	}
}
