-- The custody register: customers' keys and the equipment, every move kept.

CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    key_number TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    key_count INTEGER NOT NULL,
    cabinet TEXT NOT NULL,
    hook TEXT NOT NULL,
    night_cabinet BOOLEAN NOT NULL,
    custody TEXT NOT NULL,
    holder_group_id TEXT REFERENCES groups (id),
    holder_user_id TEXT REFERENCES users (id),
    since TIMESTAMP NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX keys_customer ON keys (customer_id);
CREATE INDEX keys_holder_group ON keys (holder_group_id, custody);
CREATE INDEX keys_custody ON keys (custody, since);

CREATE TABLE key_moves (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES keys (id),
    seq INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    move TEXT NOT NULL,
    from_place TEXT NOT NULL,
    to_place TEXT NOT NULL,
    order_id TEXT REFERENCES orders (id),
    receipt_document_id TEXT,
    note TEXT,
    UNIQUE (key_id, seq)
);

CREATE TABLE equipment_models (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    supplier TEXT NOT NULL,
    model TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (kind, supplier, model)
);

CREATE TABLE equipment_items (
    id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL REFERENCES equipment_models (id),
    kind TEXT NOT NULL,
    supplier TEXT NOT NULL,
    serial TEXT NOT NULL,
    state TEXT NOT NULL,
    customer_id TEXT REFERENCES customers (id),
    linked_customer_id TEXT REFERENCES customers (id),
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (supplier, kind, serial)
);
CREATE INDEX equipment_items_serial ON equipment_items (serial);
CREATE INDEX equipment_items_customer ON equipment_items (customer_id, state);
CREATE INDEX equipment_items_state ON equipment_items (state, kind);

CREATE TABLE equipment_moves (
    id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES equipment_items (id),
    seq INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    customer_id TEXT REFERENCES customers (id),
    order_id TEXT REFERENCES orders (id),
    note TEXT,
    UNIQUE (item_id, seq)
);
