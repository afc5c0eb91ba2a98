-- Whether a backend's last error, and a run's error on a backend, was the
-- server rejecting the token (backend.ErrUnauthorized): the window offers
-- to enter a new token by this flag, not by reading the message.
ALTER TABLE backends ADD COLUMN last_error_rejected INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_backends ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;

-- Rows written before the flag: the window read the message then (any
-- "token rejected", the words of backend.ErrUnauthorized), once, here.
UPDATE backends SET last_error_rejected = 1 WHERE last_error LIKE '%token rejected%';
UPDATE run_backends SET rejected = 1 WHERE error LIKE '%token rejected%';
