-- Budgets and recurring rules as the view keeps them: one row each, the record (with a
-- budget's alerts, a rule's booked and skipped occurrences) as JSON. A ledger holds a few
-- hundred at most, always read whole.
CREATE TABLE budgets (
    id   BLOB PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE recurring (
    id   BLOB PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

-- What this device has shown as a notification (alerts, reminders), so each shows once
-- here. Device-local: not part of the ledger document.
CREATE TABLE notified (
    key TEXT PRIMARY KEY,
    at  INTEGER NOT NULL
) WITHOUT ROWID;
