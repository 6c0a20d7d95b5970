-- Ids are UUIDs kept as TEXT so one diesel schema serves SQLite and PostgreSQL.
-- Timestamps are UTC, written by the application with microsecond precision.

CREATE TABLE areas (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    area_id TEXT NOT NULL REFERENCES areas (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (area_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    alarm_lead BOOLEAN NOT NULL,
    active BOOLEAN NOT NULL,
    token_version INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    customer_number TEXT NOT NULL UNIQUE,
    personnummer TEXT NOT NULL UNIQUE,
    birth_date DATE NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    street TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    city TEXT NOT NULL,
    phone TEXT,
    area_id TEXT NOT NULL REFERENCES areas (id),
    ordinary_assessor_id TEXT REFERENCES users (id),
    key_position TEXT,
    entry_notes TEXT,
    other_municipality BOOLEAN NOT NULL,
    consent_digital_lock BOOLEAN NOT NULL,
    consent_digital_lock_at TIMESTAMP,
    consent_digital_lock_by TEXT REFERENCES users (id),
    consent_staff_unlock BOOLEAN NOT NULL,
    consent_staff_unlock_at TIMESTAMP,
    consent_staff_unlock_by TEXT REFERENCES users (id),
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX customers_area_name ON customers (area_id, search_name, id);
CREATE INDEX customers_name ON customers (search_name, id);

CREATE TABLE customer_groups (
    customer_id TEXT NOT NULL REFERENCES customers (id),
    group_id TEXT NOT NULL REFERENCES groups (id),
    PRIMARY KEY (customer_id, group_id)
);
CREATE INDEX customer_groups_group ON customer_groups (group_id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Append-only: the application never updates or deletes a row here.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    user_id TEXT,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    customer_id TEXT,
    ip TEXT,
    request_id TEXT,
    reason TEXT
);
CREATE INDEX audit_log_customer ON audit_log (customer_id, at, id);
CREATE INDEX audit_log_user ON audit_log (user_id, at, id);
CREATE INDEX audit_log_at ON audit_log (at, id);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    content_type TEXT,
    response_body BLOB,
    created_at TIMESTAMP NOT NULL,
    -- Set in the same transaction as the action itself: the action happened,
    -- even if the server died before the response was stored.
    committed_at TIMESTAMP,
    PRIMARY KEY (scope, idempotency_key)
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
