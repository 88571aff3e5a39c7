-- canopy schema version 3 (SQLite): what daemons share through the database.
-- Neither table is part of the live state: writing them bumps no change counter.

-- At most one row: reconciling is suspended until `until_at` (ISO 8601 UTC text).
CREATE TABLE canopy_suspension (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    until_at     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    suspended_by TEXT NOT NULL,
    suspended_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Plans the blast-radius gate held, waiting for `canopy approve ID`.
CREATE TABLE canopy_held_plans (
    id         TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    summary    TEXT NOT NULL,
    plan       TEXT NOT NULL,
    held_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
