-- Accounts signed in to: plex.tv (kind plextv), or a Jellyfin or Emby
-- server as one user. The token column holds a keyring marker, or the
-- token itself when there is no keyring, as backends.token does.
CREATE TABLE accounts (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL UNIQUE,
    kind      TEXT    NOT NULL CHECK (kind IN ('plextv', 'jellyfin', 'emby')),
    url       TEXT    NOT NULL,             -- plex.tv's base URL, or the server's
    user_id   TEXT    NOT NULL DEFAULT '',  -- plex.tv account id, or the server's user id
    user_name TEXT    NOT NULL DEFAULT '',
    server_id TEXT    NOT NULL DEFAULT '',  -- Jellyfin/Emby: the server's id
    admin     INTEGER NOT NULL DEFAULT 0,
    token     TEXT    NOT NULL,
    created   INTEGER NOT NULL
);

-- A backend made from an account, and how to derive its token again when
-- the server rejects it: the server, and whose token it is (the account's
-- own, a Plex Home user's by switch, a friend's by shared_servers). A
-- protected home user's PIN is a secret like a token (keyring marker or
-- the PIN).
CREATE TABLE account_backends (
    backend_id  INTEGER PRIMARY KEY REFERENCES backends(id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    server_id   TEXT    NOT NULL,
    relation    TEXT    NOT NULL CHECK (relation IN ('self', 'home', 'friend')),
    remote_user TEXT    NOT NULL DEFAULT '', -- plex.tv uuid of the home user, user id of the friend
    pin         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX account_backends_account ON account_backends(account_id);
