-- canopy schema version 1 (SQLite). docs/schema.md describes every table and column.
-- JSON columns hold canonical JSON text (keys sorted); booleans are 0/1; times are
-- ISO 8601 UTC text.

CREATE TABLE canopy_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO canopy_meta (key, value) VALUES ('next_account_number', 1000);

CREATE TABLE service_plans (
    name         TEXT PRIMARY KEY,
    billing      TEXT NOT NULL CHECK (billing IN ('trial', 'purchased')),
    licenses     INTEGER CHECK (licenses IS NULL OR licenses >= 0),
    limits       TEXT NOT NULL DEFAULT '{}',
    display_name TEXT,
    managed_by   TEXT,
    archived_at  TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE accounts (
    name                      TEXT PRIMARY KEY,
    node_type                 TEXT NOT NULL CHECK (node_type IN ('subsidiary', 'partner',
                                  'customer', 'enterprise', 'partner-group', 'customer-group')),
    display_name              TEXT NOT NULL,
    parent                    TEXT REFERENCES accounts (name) DEFERRABLE INITIALLY DEFERRED,
    account_number            INTEGER UNIQUE,
    active                    INTEGER NOT NULL CHECK (active IN (0, 1)),
    customer_type             TEXT CHECK (customer_type IN ('endCustomer', 'subDivision')),
    reseller                  INTEGER NOT NULL DEFAULT 0 CHECK (reseller IN (0, 1)),
    plan                      TEXT REFERENCES service_plans (name) DEFERRABLE INITIALLY DEFERRED,
    address                   TEXT,
    contact                   TEXT,
    services                  TEXT NOT NULL DEFAULT '{}',
    settings                  TEXT NOT NULL DEFAULT '{}',
    locked_settings           TEXT NOT NULL DEFAULT '[]',
    effective_active          INTEGER NOT NULL CHECK (effective_active IN (0, 1)),
    effective_services        TEXT NOT NULL DEFAULT '{}',
    effective_settings        TEXT NOT NULL DEFAULT '{}',
    effective_locked_settings TEXT NOT NULL DEFAULT '[]',
    managed_by                TEXT,
    archived_at               TEXT,
    created_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at                TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX accounts_parent ON accounts (parent);
CREATE INDEX accounts_plan ON accounts (plan);

CREATE TABLE users (
    account  TEXT NOT NULL REFERENCES accounts (name) DEFERRABLE INITIALLY DEFERRED,
    email    TEXT NOT NULL,
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    language TEXT,
    timezone TEXT,
    PRIMARY KEY (account, email)
);
CREATE INDEX users_email ON users (email);

-- "Can this user log in?": one indexed read by e-mail, joined to its account's row.
CREATE VIEW user_logins AS
SELECT users.email,
       users.account,
       users.name,
       users.role,
       (accounts.effective_active = 1 AND accounts.archived_at IS NULL) AS can_log_in
FROM users
JOIN accounts ON accounts.name = users.account;

CREATE TABLE usage (
    account TEXT NOT NULL,
    metric  TEXT NOT NULL,
    period  TEXT NOT NULL,
    amount  REAL NOT NULL,
    PRIMARY KEY (account, metric, period)
);
CREATE INDEX usage_period ON usage (period);

CREATE TABLE audit_log (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor    TEXT NOT NULL,
    source   TEXT NOT NULL,
    revision TEXT,
    op       TEXT NOT NULL,
    kind     TEXT NOT NULL,
    name     TEXT NOT NULL,
    before   TEXT,
    after    TEXT
);
CREATE INDEX audit_log_name ON audit_log (name);

-- The audit log is append-only.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
