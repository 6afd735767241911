-- Each account's categories, payment methods and ledger settings, projected from its ledger
-- document by the server (the document is the source of truth; these rows follow it).

CREATE TABLE ledger_settings (
    user_id         UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    base_currency   TEXT NOT NULL
);

CREATE TABLE ledger_categories (
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('expense', 'income')),
    color           TEXT NOT NULL,
    icon            TEXT NOT NULL,
    archived        BOOLEAN NOT NULL,
    builtin         BOOLEAN NOT NULL,
    deleted         BOOLEAN NOT NULL,
    merged_into     UUID,
    PRIMARY KEY (user_id, id)
);

CREATE TABLE ledger_payment_methods (
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    name            TEXT NOT NULL,
    archived        BOOLEAN NOT NULL,
    builtin         BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, id)
);
