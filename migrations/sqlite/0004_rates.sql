-- Exchange rates and amounts converted into the base currency.

-- Every rate the document holds, one row per pair and date: the ECB's (units of `quote` per
-- euro, source 0) and the user's manual ones ("1 base = rate quote", source 1). `key` is the
-- document entry the row comes from, so a removed entry removes its rows.
CREATE TABLE rates (
    base   TEXT NOT NULL,
    quote  TEXT NOT NULL,
    date   INTEGER NOT NULL,
    source INTEGER NOT NULL,
    rate   TEXT NOT NULL,
    key    TEXT NOT NULL,
    PRIMARY KEY (base, quote, date, source)
) WITHOUT ROWID;
CREATE INDEX rates_key ON rates (key);

-- The amount in the base currency with the rate of the transaction's date, rounded to the
-- base currency's minor unit, in ten-thousandths like `amount`; NULL when there is no rate.
ALTER TABLE transactions ADD COLUMN base_amount INTEGER;

-- Per month, category, kind and currency: the converted sum, how many were converted, and
-- the original sum of those that could not be (no rate).
ALTER TABLE month_totals ADD COLUMN base_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE month_totals ADD COLUMN base_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE month_totals ADD COLUMN unrated_total INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER transactions_ai;
DROP TRIGGER transactions_ad;
DROP TRIGGER transactions_au;

CREATE TRIGGER transactions_ai AFTER INSERT ON transactions BEGIN
    INSERT INTO month_totals (month, category, kind, currency, total, count, base_total, base_count, unrated_total)
    VALUES (new.date / 100, new.category, new.kind, new.currency, new.amount, 1,
            coalesce(new.base_amount, 0), new.base_amount IS NOT NULL,
            CASE WHEN new.base_amount IS NULL THEN new.amount ELSE 0 END)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, count = count + 1,
        base_total = base_total + excluded.base_total, base_count = base_count + excluded.base_count,
        unrated_total = unrated_total + excluded.unrated_total;
    INSERT INTO transactions_fts (rowid, description, notes) VALUES (new.rowid, new.description, new.notes);
END;

CREATE TRIGGER transactions_ad AFTER DELETE ON transactions BEGIN
    UPDATE month_totals SET total = total - old.amount, count = count - 1,
        base_total = base_total - coalesce(old.base_amount, 0),
        base_count = base_count - (old.base_amount IS NOT NULL),
        unrated_total = unrated_total - CASE WHEN old.base_amount IS NULL THEN old.amount ELSE 0 END
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency;
    DELETE FROM month_totals
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency AND count = 0;
    INSERT INTO transactions_fts (transactions_fts, rowid, description, notes) VALUES ('delete', old.rowid, old.description, old.notes);
    DELETE FROM transaction_tags WHERE tx_rowid = old.rowid;
END;

CREATE TRIGGER transactions_au AFTER UPDATE OF date, category, kind, currency, amount, base_amount ON transactions BEGIN
    UPDATE month_totals SET total = total - old.amount, count = count - 1,
        base_total = base_total - coalesce(old.base_amount, 0),
        base_count = base_count - (old.base_amount IS NOT NULL),
        unrated_total = unrated_total - CASE WHEN old.base_amount IS NULL THEN old.amount ELSE 0 END
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency;
    DELETE FROM month_totals
    WHERE month = old.date / 100 AND category = old.category AND kind = old.kind AND currency = old.currency AND count = 0;
    INSERT INTO month_totals (month, category, kind, currency, total, count, base_total, base_count, unrated_total)
    VALUES (new.date / 100, new.category, new.kind, new.currency, new.amount, 1,
            coalesce(new.base_amount, 0), new.base_amount IS NOT NULL,
            CASE WHEN new.base_amount IS NULL THEN new.amount ELSE 0 END)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, count = count + 1,
        base_total = base_total + excluded.base_total, base_count = base_count + excluded.base_count,
        unrated_total = unrated_total + excluded.unrated_total;
END;
