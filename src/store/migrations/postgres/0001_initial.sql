-- canopy schema version 1 (PostgreSQL). docs/schema.md describes every table and column.
-- Names use the "C" collation so that their order is byte order, as in SQLite and Rust.
-- JSON columns hold canonical JSON text (keys sorted); cast with ::jsonb to query them.

CREATE TABLE canopy_meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO canopy_meta (key, value) VALUES ('next_account_number', 1000);

CREATE TABLE service_plans (
    name         TEXT COLLATE "C" PRIMARY KEY,
    billing      TEXT NOT NULL CHECK (billing IN ('trial', 'purchased')),
    licenses     BIGINT CHECK (licenses IS NULL OR licenses >= 0),
    limits       TEXT NOT NULL DEFAULT '{}',
    display_name TEXT,
    managed_by   TEXT,
    archived_at  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
    name                      TEXT COLLATE "C" PRIMARY KEY,
    node_type                 TEXT NOT NULL CHECK (node_type IN ('subsidiary', 'partner',
                                  'customer', 'enterprise', 'partner-group', 'customer-group')),
    display_name              TEXT NOT NULL,
    parent                    TEXT COLLATE "C"
                                  REFERENCES accounts (name) DEFERRABLE INITIALLY DEFERRED,
    account_number            BIGINT UNIQUE,
    active                    BOOLEAN NOT NULL,
    customer_type             TEXT CHECK (customer_type IN ('endCustomer', 'subDivision')),
    reseller                  BOOLEAN NOT NULL DEFAULT false,
    plan                      TEXT COLLATE "C"
                                  REFERENCES service_plans (name) DEFERRABLE INITIALLY DEFERRED,
    address                   TEXT,
    contact                   TEXT,
    services                  TEXT NOT NULL DEFAULT '{}',
    settings                  TEXT NOT NULL DEFAULT '{}',
    locked_settings           TEXT NOT NULL DEFAULT '[]',
    effective_active          BOOLEAN NOT NULL,
    effective_services        TEXT NOT NULL DEFAULT '{}',
    effective_settings        TEXT NOT NULL DEFAULT '{}',
    effective_locked_settings TEXT NOT NULL DEFAULT '[]',
    managed_by                TEXT,
    archived_at               TIMESTAMPTZ,
    created_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX accounts_parent ON accounts (parent);
CREATE INDEX accounts_plan ON accounts (plan);

CREATE TABLE users (
    account  TEXT COLLATE "C" NOT NULL
                 REFERENCES accounts (name) DEFERRABLE INITIALLY DEFERRED,
    email    TEXT COLLATE "C" NOT NULL,
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
       (accounts.effective_active AND accounts.archived_at IS NULL) AS can_log_in
FROM users
JOIN accounts ON accounts.name = users.account;

CREATE TABLE usage (
    account TEXT COLLATE "C" NOT NULL,
    metric  TEXT COLLATE "C" NOT NULL,
    period  TEXT COLLATE "C" NOT NULL,
    amount  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, metric, period)
);
CREATE INDEX usage_period ON usage (period);

CREATE TABLE audit_log (
    sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL DEFAULT now(),
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
CREATE FUNCTION canopy_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION canopy_audit_log_append_only();
