-- The tags in use in each account's ledger and how many transactions carry each, projected
-- from its ledger document like its categories (one row an account: the tags are few).
CREATE TABLE ledger_tags (
    user_id         UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    tags            TEXT[] NOT NULL,
    counts          BIGINT[] NOT NULL CHECK (cardinality(counts) = cardinality(tags))
);
