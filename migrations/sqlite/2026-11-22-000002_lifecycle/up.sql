-- Decisions, orders with history and contact log, executions, billing events
-- and messages: the lifecycle of domain.md.

CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    service TEXT NOT NULL,
    valid_from DATE NOT NULL,
    valid_to DATE,
    follows_id TEXT REFERENCES decisions (id),
    decided_by TEXT NOT NULL REFERENCES users (id),
    ended_on DATE,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX decisions_customer ON decisions (customer_id, valid_from);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    decision_id TEXT NOT NULL REFERENCES decisions (id),
    kind TEXT NOT NULL,
    service TEXT NOT NULL,
    state TEXT NOT NULL,
    team_group_id TEXT REFERENCES groups (id),
    assigned_installer_id TEXT REFERENCES users (id),
    visit_at TIMESTAMP,
    visit_date DATE,
    installation_date DATE,
    end_date DATE,
    serials TEXT,
    state_reason TEXT,
    supplier TEXT,
    supplier_reference TEXT,
    supplier_ordered_on DATE,
    lock_receipt TEXT,
    lock_receipt_collected_on DATE,
    received_at TIMESTAMP NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_state ON orders (state, kind);
CREATE INDEX orders_installer_visit ON orders (assigned_installer_id, visit_date);
CREATE INDEX orders_team ON orders (team_group_id, state);

CREATE TABLE order_transitions (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    at TIMESTAMP NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    event TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT,
    details TEXT
);
CREATE INDEX order_transitions_order ON order_transitions (order_id, at);

CREATE TABLE order_contacts (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    at TIMESTAMP NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    note TEXT
);
CREATE INDEX order_contacts_order ON order_contacts (order_id, at);

CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    order_id TEXT REFERENCES orders (id),
    decision_id TEXT REFERENCES decisions (id),
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    billable BOOLEAN NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (order_id)
);
CREATE INDEX executions_customer ON executions (customer_id);

CREATE TABLE billing_events (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    execution_id TEXT NOT NULL REFERENCES executions (id),
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_date DATE NOT NULL,
    own_invoice_line BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (execution_id, kind)
);
CREATE INDEX billing_events_date ON billing_events (event_date, id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    sender_id TEXT REFERENCES users (id),
    recipient_group_id TEXT REFERENCES groups (id),
    recipient_user_id TEXT REFERENCES users (id),
    recipient_role TEXT,
    customer_id TEXT REFERENCES customers (id),
    order_id TEXT REFERENCES orders (id),
    topic TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX messages_group ON messages (recipient_group_id, created_at);
CREATE INDEX messages_user ON messages (recipient_user_id, created_at);
CREATE INDEX messages_role ON messages (recipient_role, created_at);

CREATE TABLE message_reads (
    message_id TEXT NOT NULL REFERENCES messages (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    read_at TIMESTAMP NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
