package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccountsKeepTokensInTheKeyring(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := newMemKeyring()
	s := openWith(t, dir, k)
	const tok = "plex-account-token-very-secret"
	a, err := s.AddAccount(ctx, Account{Name: "plex-owner", Kind: AccountPlexTV, URL: "https://plex.tv", UserID: "1", UserName: "owner", Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if !a.TokenInKeyring {
		t.Fatal("the token did not go to the keyring")
	}
	if got, _ := k.get("account:plex-owner"); got != tok {
		t.Fatalf("keyring holds %q", got)
	}
	if _, err := s.AddAccount(ctx, Account{Name: "plex-owner", Kind: AccountPlexTV, URL: "x", Token: "t"}); !errors.Is(err, ErrExists) {
		t.Fatalf("same name again: %v, want ErrExists", err)
	}
	got, err := s.Account(ctx, "plex-owner")
	if err != nil || got.Token != tok || got.UserName != "owner" {
		t.Fatalf("Account = %+v, %v", got, err)
	}
	if strings.Contains(got.String(), tok) {
		t.Fatal("String shows the token")
	}
	list, err := s.Accounts(ctx)
	if err != nil || len(list) != 1 || list[0].Token != "" {
		t.Fatalf("Accounts = %+v, %v (want no token in the list)", list, err)
	}

	// A backend made from it, for a PIN-protected home user.
	b, err := s.AddBackend(ctx, Backend{Name: "ben", Kind: "plex", URL: "http://h:32400", Token: "derived"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LinkBackendAccount(ctx, AccountLink{BackendID: b.ID, AccountID: a.ID, ServerID: "m1", Relation: RelationHome, RemoteUser: "42", PIN: "1234"}); err != nil {
		t.Fatal(err)
	}
	l, err := s.BackendLink(ctx, b.ID)
	if err != nil || l.PIN != "1234" || l.RemoteUser != "42" || l.Relation != RelationHome {
		t.Fatalf("BackendLink = %+v, %v", l, err)
	}
	if names, _ := s.AccountBackends(ctx, a.ID); len(names) != 1 || names[0] != "ben" {
		t.Fatalf("AccountBackends = %v", names)
	}
	if err := s.SetAccountToken(ctx, "plex-owner", "new-token"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Account(ctx, "plex-owner"); got.Token != "new-token" {
		t.Fatalf("after SetAccountToken: %q", got.Token)
	}

	// Nothing secret is in the database file.
	s.Close()
	for _, f := range []string{"playmark.db", "playmark.db-wal"} {
		raw, _ := os.ReadFile(filepath.Join(dir, f))
		for _, secret := range []string{tok, "new-token"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s holds a secret", f)
			}
		}
	}
	s = openWith(t, dir, k)
	if err := s.RemoveAccount(ctx, "plex-owner"); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.get("account:plex-owner"); ok {
		t.Fatal("the account's secret is still in the keyring")
	}
	if _, ok := k.get("pin:backend-1"); ok {
		t.Fatal("the PIN is still in the keyring")
	}
	if _, err := s.BackendLink(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link after removing the account: %v", err)
	}
	if _, err := s.Backend(ctx, "ben"); err != nil {
		t.Fatalf("the backend went with the account: %v", err)
	}
}

func TestAccountsWithoutKeyring(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, t.TempDir(), nil)
	a, err := s.AddAccount(ctx, Account{Name: "jf", Kind: AccountJellyfin, URL: "http://j:8096", Token: "tok"})
	if err != nil || a.TokenInKeyring {
		t.Fatalf("AddAccount = %+v, %v", a, err)
	}
	if got, err := s.Account(ctx, "jf"); err != nil || got.Token != "tok" {
		t.Fatalf("Account = %+v, %v", got, err)
	}
}

func TestAccountSecretsMoveIntoALaterKeyring(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openWith(t, dir, nil)
	a, err := s.AddAccount(ctx, Account{Name: "p", Kind: AccountPlexTV, URL: "https://plex.tv", Token: "account-secret-xyz"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AddBackend(ctx, Backend{Name: "ben", Kind: "plex", URL: "http://h:32400", Token: "derived"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LinkBackendAccount(ctx, AccountLink{BackendID: b.ID, AccountID: a.ID, ServerID: "m", Relation: RelationHome, RemoteUser: "7", PIN: "4321"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	k := newMemKeyring()
	s = openWith(t, dir, k)
	if got, _ := k.get("account:p"); got != "account-secret-xyz" {
		t.Fatalf("keyring has %q for the account", got)
	}
	if got, _ := k.get("pin:backend-1"); got != "4321" {
		t.Fatalf("keyring has %q for the PIN", got)
	}
	if got, err := s.Account(ctx, "p"); err != nil || got.Token != "account-secret-xyz" || !got.TokenInKeyring {
		t.Fatalf("Account = %+v, %v", got, err)
	}
	if l, err := s.BackendLink(ctx, b.ID); err != nil || l.PIN != "4321" {
		t.Fatalf("BackendLink = %+v, %v", l, err)
	}
	s.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if strings.Contains(string(raw), "account-secret-xyz") {
		t.Fatal("the database still holds the account token")
	}
}
