package secret

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"playmark/sync/secret/secrettest"
)

// TestSecretService drives a real GNOME Keyring: its login keyring made
// and unlocked headlessly, then Set, Get and Delete, cross-checked with
// libsecret's secret-tool in both directions, and a locked keyring seen as
// unavailable (not a hang, not a prompt).
func TestSecretService(t *testing.T) {
	if secrettest.IsChild(t) {
		realKeyring(t)
		return
	}
	secrettest.NeedTools(t, "dbus-run-session", "gnome-keyring-daemon")
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Fatal("secret-tool is not installed (apt-get install libsecret-tools, as .ci/deps test does): needed to cross-check the keyring")
	}
	secrettest.UnderBus(t, "")
}

func realKeyring(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "config")
	var k *SecretService
	secrettest.StartKeyring(t, func() (err error) {
		k, err = OpenSecretService(ctx, dir)
		return err
	})
	defer k.Close()

	// The contract.
	if _, err := k.Get(ctx, "plex"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a secret never set: %v, want ErrNotFound", err)
	}
	if err := k.Delete(ctx, "plex"); err != nil {
		t.Fatalf("Delete of a secret never set: %v, want nil", err)
	}
	const tok = "plex-token-Zx81 ünïcode/+="
	if err := k.Set(ctx, "plex", tok); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(ctx, "jellyfin", "jf-token"); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Get(ctx, "plex"); err != nil || got != tok {
		t.Fatalf("Get = %q, %v; want the token set", got, err)
	}
	if err := k.Set(ctx, "plex", tok+"-2"); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Get(ctx, "plex"); err != nil || got != tok+"-2" {
		t.Fatalf("Get after a second Set = %q, %v; want the new token", got, err)
	}
	if n := len(lookupAll(t, "application", "playmark", "backend", "plex")); n != 1 {
		t.Errorf("%d items for plex after two Sets, want 1 (Replace)", n)
	}

	// libsecret sees what we stored, under the documented attributes.
	if got := secretTool(t, "lookup", "application", "playmark", "backend", "plex"); got != tok+"-2" {
		t.Errorf("secret-tool lookup application playmark backend plex = %q, want the token", got)
	}
	if got := secretTool(t, "lookup", "application", "playmark", "config-dir", dir, "backend", "jellyfin"); got != "jf-token" {
		t.Errorf("secret-tool lookup with config-dir = %q, want jf-token", got)
	}
	// And we see what libsecret stored.
	store := exec.Command("secret-tool", "store", "--label=made by secret-tool", "application", "playmark", "config-dir", dir, "backend", "emby")
	store.Stdin = strings.NewReader("emby-from-secret-tool")
	if out, err := store.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool store: %v\n%s", err, out)
	}
	if got, err := k.Get(ctx, "emby"); err != nil || got != "emby-from-secret-tool" {
		t.Errorf("Get of secret-tool's item = %q, %v", got, err)
	}

	// Another config dir has keyrings of its own.
	other, err := OpenSecretService(ctx, dir+"-other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "plex"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another config dir's Get: %v, want ErrNotFound", err)
	}
	if err := other.Set(ctx, "plex", "other-token"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if got, _ := k.Get(ctx, "plex"); got != tok+"-2" {
		t.Errorf("another config dir's Set changed this one's token to %q", got)
	}

	// A new connection finds what the last one stored.
	k.Close()
	k, err = OpenSecretService(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Get(ctx, "jellyfin"); err != nil || got != "jf-token" {
		t.Errorf("Get over a new connection = %q, %v", got, err)
	}

	if err := k.Delete(ctx, "plex"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, "plex"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if n := len(lookupAll(t, "application", "playmark", "config-dir", dir, "backend", "plex")); n != 0 {
		t.Errorf("%d items left for plex after Delete", n)
	}
	if got, err := k.Get(ctx, "jellyfin"); err != nil || got != "jf-token" {
		t.Errorf("Delete of plex touched jellyfin: %q, %v", got, err)
	}

	// Lock the keyring: unlocking it again needs the password, that is a
	// prompt, so the keyring is unavailable, at once.
	bus, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	svc := bus.Object(busName, servicePath)
	var coll dbus.ObjectPath
	if err := svc.Call(ifaceService+".ReadAlias", 0, "default").Store(&coll); err != nil {
		t.Fatal(err)
	}
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	if err := svc.Call(ifaceService+".Lock", 0, []dbus.ObjectPath{coll}).Store(&locked, &prompt); err != nil || prompt != noPrompt {
		t.Fatalf("locking the keyring: %v (prompt %s)", err, prompt)
	}
	began := time.Now()
	if _, err := k.Get(ctx, "jellyfin"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("Get from a locked keyring: %v, want ErrUnavailable saying it is locked", err)
	}
	if err := k.Set(ctx, "jellyfin", "x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Set into a locked keyring: %v, want ErrUnavailable", err)
	}
	if _, err := OpenSecretService(ctx, dir); !errors.Is(err, ErrUnavailable) {
		t.Errorf("OpenSecretService on a locked keyring: %v, want ErrUnavailable", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("a locked keyring took %v to report, want well under CallTimeout", d)
	}
}

// lookupAll lists the items with these attributes in every collection.
func lookupAll(t *testing.T, kv ...string) []dbus.ObjectPath {
	t.Helper()
	bus, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	attrs := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	var unlocked, locked []dbus.ObjectPath
	if err := bus.Object(busName, servicePath).Call(ifaceService+".SearchItems", 0, attrs).Store(&unlocked, &locked); err != nil {
		t.Fatal(err)
	}
	return append(unlocked, locked...)
}

func secretTool(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "secret-tool", args...).Output()
	if err != nil {
		t.Errorf("secret-tool %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// A session bus with a Secret Service that can be started but has no
// default keyring (GNOME Keyring before anyone logged in with a password,
// as under a bare dbus-run-session) is unavailable: Playmark does not
// make a keyring, which would prompt for its password.
func TestSecretServiceNoDefaultKeyring(t *testing.T) {
	if secrettest.IsChild(t) {
		began := time.Now()
		_, err := OpenSecretService(context.Background(), t.TempDir())
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("OpenSecretService: %v, want ErrUnavailable", err)
		}
		t.Logf("%v after %v", err, time.Since(began))
		if d := time.Since(began); d > CallTimeout+time.Second {
			t.Errorf("took %v", d)
		}
		return
	}
	secrettest.NeedTools(t, "dbus-run-session", "gnome-keyring-daemon")
	secrettest.UnderBus(t, "")
}

// A session bus with no Secret Service at all (nothing owns or can start
// org.freedesktop.secrets) is unavailable, at once.
func TestSecretServiceNoService(t *testing.T) {
	if secrettest.IsChild(t) {
		began := time.Now()
		_, err := OpenSecretService(context.Background(), t.TempDir())
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no Secret Service") {
			t.Fatalf("OpenSecretService: %v, want ErrUnavailable: no Secret Service", err)
		}
		if d := time.Since(began); d > time.Second {
			t.Errorf("took %v, want at once", d)
		}
		return
	}
	secrettest.NeedTools(t, "dbus-run-session")
	// A session bus that knows no services to start.
	conf := filepath.Join(t.TempDir(), "session.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600); err != nil {
		t.Fatal(err)
	}
	secrettest.UnderBus(t, conf)
}

// No session bus (a server, a container, a cron job): ErrUnavailable at
// once, and no bus started.
func TestSecretServiceNoBus(t *testing.T) {
	for name, env := range map[string][2]string{
		"nothing":        {"", t.TempDir()},
		"disabled":       {"disabled:", t.TempDir()},
		"no such socket": {"unix:path=" + filepath.Join(t.TempDir(), "none"), ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", env[0])
			t.Setenv("XDG_RUNTIME_DIR", env[1])
			began := time.Now()
			k, err := OpenSecretService(context.Background(), t.TempDir())
			if !errors.Is(err, ErrUnavailable) || k != nil {
				t.Fatalf("OpenSecretService = %v, %v; want ErrUnavailable", k, err)
			}
			if d := time.Since(began); d > time.Second {
				t.Errorf("took %v, want at once", d)
			}
			if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != env[0] {
				t.Error("OpenSecretService changed DBUS_SESSION_BUS_ADDRESS")
			}
		})
	}
}

// A bus that takes the connection and never answers is unavailable by
// the caller's deadline.
func TestSecretServiceBusNeverAnswers(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "bus")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = OpenSecretService(ctx, t.TempDir())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OpenSecretService: %v, want ErrUnavailable", err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("took %v with a 300ms deadline", d)
	}
	fmt.Println(err) // the message a user would read
}
