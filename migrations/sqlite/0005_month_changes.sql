-- The months whose totals changed since the store last looked: filled by triggers on
-- `month_totals`, drained with each write or merge into `Store::take_changed` (what a server
-- republishes). Bookkeeping of this file, not part of the view.
-- (`WHERE NOT EXISTS` rather than `OR IGNORE`: an upsert into `month_totals` would impose its
-- own conflict handling on a trigger's statement.)
CREATE TABLE month_changes (
    month INTEGER PRIMARY KEY
) WITHOUT ROWID;

CREATE TRIGGER month_totals_ai AFTER INSERT ON month_totals BEGIN
    INSERT INTO month_changes (month) SELECT new.month
    WHERE NOT EXISTS (SELECT 1 FROM month_changes WHERE month = new.month);
END;

CREATE TRIGGER month_totals_au AFTER UPDATE ON month_totals BEGIN
    INSERT INTO month_changes (month) SELECT new.month
    WHERE NOT EXISTS (SELECT 1 FROM month_changes WHERE month = new.month);
END;

CREATE TRIGGER month_totals_ad AFTER DELETE ON month_totals BEGIN
    INSERT INTO month_changes (month) SELECT old.month
    WHERE NOT EXISTS (SELECT 1 FROM month_changes WHERE month = old.month);
END;
