-- Mail and webhook deliveries, written in the transaction of the change that
-- causes them and sent by the dispatcher (app/outbox.rs).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL,
    event_type TEXT NOT NULL,
    message_id TEXT,
    subscription_id TEXT,
    customer_number TEXT,
    order_id TEXT,
    target TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_message ON outbox (message_id);

CREATE TABLE group_mailboxes (
    group_id TEXT PRIMARY KEY NOT NULL REFERENCES groups (id),
    address TEXT NOT NULL
);

CREATE TABLE user_mail (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    address TEXT NOT NULL,
    topics TEXT NOT NULL
);

CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    event_types TEXT NOT NULL,
    allow_http BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
