-- Sync with the account's server. Which account and server the ledger is bound to, how far
-- it has read the account's change log (`sync_cursor`) and when it last agreed with the
-- server (`sync_last`) live in `meta`.

-- Changes the server has not acknowledged yet, in the order they were made or received:
-- every local change, and changes merged from anywhere but the server (a backup, say).
-- A row goes when the server says the change is stored; sending one twice is harmless.
CREATE TABLE sync_outbox (
    no   INTEGER PRIMARY KEY AUTOINCREMENT,
    hash BLOB NOT NULL UNIQUE,
    data BLOB NOT NULL
);
