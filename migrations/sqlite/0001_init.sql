-- The local store of one ledger: the automerge document (a compacted snapshot plus the
-- changes made or received since) and the materialized view every read uses.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- At most one row: the document saved whole at the last compaction.
CREATE TABLE doc_snapshot (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    data BLOB NOT NULL
);

-- Changes not yet folded into the snapshot, in the order they were stored.
CREATE TABLE doc_changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: readers track the last seq they saw
    hash BLOB NOT NULL UNIQUE,
    data BLOB NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- `no` is a small local number that the view's rows use instead of the 16-byte id.
CREATE TABLE categories (
    no          INTEGER PRIMARY KEY,
    id          BLOB NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    kind        INTEGER NOT NULL,
    color       TEXT NOT NULL,
    icon        TEXT NOT NULL,
    archived    INTEGER NOT NULL,
    deleted     INTEGER NOT NULL,
    merged_into BLOB
);

CREATE TABLE payment_methods (
    no       INTEGER PRIMARY KEY,
    id       BLOB NOT NULL UNIQUE,
    name     TEXT NOT NULL,
    archived INTEGER NOT NULL
);

-- amount: integer ten-thousandths of the currency unit (exact sums).
-- date: yyyymmdd as an integer (so yyyymm = date / 100).
-- category: the resolved category's `no`; category_ref: the document's reference (an id)
-- when it differs (a deleted category), so it can be resolved again.
-- payment_method: the payment method's `no`.
CREATE TABLE transactions (
    rowid          INTEGER PRIMARY KEY,
    id             BLOB NOT NULL UNIQUE,
    kind           INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    date           INTEGER NOT NULL,
    category       INTEGER NOT NULL,
    category_ref   BLOB,
    payment_method INTEGER NOT NULL,
    description    TEXT NOT NULL,
    notes          TEXT,
    tags           TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    conflicts      TEXT
);
-- Date order for listing, and every scalar filter column, so that counting a filtered list
-- scans this narrow index instead of the table.
CREATE INDEX transactions_filter ON transactions (date, kind, amount, payment_method, category);
CREATE INDEX transactions_amount ON transactions (amount);
-- Counting a list filtered by kind, payment method or amount without a narrow date range.
CREATE INDEX transactions_kind_method ON transactions (kind, payment_method, amount);
CREATE INDEX transactions_category ON transactions (category, date);
CREATE INDEX transactions_category_ref ON transactions (category_ref) WHERE category_ref IS NOT NULL;

-- The transaction's date is repeated here so that a tag filter with a date range narrows
-- the rows before reading any transaction.
CREATE TABLE transaction_tags (
    tx_rowid INTEGER NOT NULL,
    tag      TEXT NOT NULL,
    date     INTEGER NOT NULL,
    PRIMARY KEY (tx_rowid, tag)
) WITHOUT ROWID;
CREATE INDEX transaction_tags_tag ON transaction_tags (tag, date, tx_rowid);

-- Monthly totals per category, kind and currency, kept exact by triggers; dashboard queries
-- read whole months here instead of scanning transactions.
CREATE TABLE month_totals (
    month       INTEGER NOT NULL,
    category    INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    total       INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (month, category, kind, currency)
) WITHOUT ROWID;

-- Free text over description and notes; the text itself lives in `transactions`. Searches
-- are conjunctions of word prefixes, so word positions and document sizes are not kept
-- (detail = column, columnsize = 0): a smaller index that is faster to write. (detail = none
-- would be smaller still, but makes prefix queries about three times slower.)
CREATE VIRTUAL TABLE transactions_fts USING fts5 (
    description, notes,
    content = 'transactions', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2',
    detail = column, columnsize = 0
);

CREATE TRIGGER transactions_ai AFTER INSERT ON transactions BEGIN
    INSERT INTO month_totals (month, category, kind, currency, total, count)
    VALUES (new.date / 100, new.category, new.kind, new.currency, new.amount, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, count = count + 1;
    INSERT INTO transactions_fts (rowid, description, notes) VALUES (new.rowid, new.description, new.notes);
END;

CREATE TRIGGER transactions_ad AFTER DELETE ON transactions BEGIN
    UPDATE month_totals SET total = total - old.amount, count = count - 1
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency;
    DELETE FROM month_totals
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency AND count = 0;
    INSERT INTO transactions_fts (transactions_fts, rowid, description, notes) VALUES ('delete', old.rowid, old.description, old.notes);
    DELETE FROM transaction_tags WHERE tx_rowid = old.rowid;
END;

CREATE TRIGGER transactions_au AFTER UPDATE OF date, category, kind, currency, amount ON transactions BEGIN
    UPDATE month_totals SET total = total - old.amount, count = count - 1
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency;
    DELETE FROM month_totals
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency AND count = 0;
    INSERT INTO month_totals (month, category, kind, currency, total, count)
    VALUES (new.date / 100, new.category, new.kind, new.currency, new.amount, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, count = count + 1;
END;

CREATE TRIGGER transactions_au_text AFTER UPDATE OF description, notes ON transactions BEGIN
    INSERT INTO transactions_fts (transactions_fts, rowid, description, notes) VALUES ('delete', old.rowid, old.description, old.notes);
    INSERT INTO transactions_fts (rowid, description, notes) VALUES (new.rowid, new.description, new.notes);
END;

