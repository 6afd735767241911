-- Each account's budgets, projected from its ledger document like its categories.
CREATE TABLE ledger_budgets (
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id              UUID NOT NULL,
    name            TEXT NOT NULL,
    category_id     UUID,
    period          TEXT NOT NULL CHECK (period IN ('monthly', 'annual')),
    amount          NUMERIC(28, 4) NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    start_date      DATE NOT NULL,
    rollover        BOOLEAN NOT NULL,
    thresholds      INTEGER[] NOT NULL,
    PRIMARY KEY (user_id, id)
);
