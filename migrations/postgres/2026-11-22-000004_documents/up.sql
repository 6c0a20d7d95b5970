-- Photographed, signed documents: the original kept as proof, by its SHA-256.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    order_id TEXT REFERENCES orders (id),
    kind TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    signed_at DATE NOT NULL,
    taken_by TEXT NOT NULL REFERENCES users (id),
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    byte_size BIGINT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    superseded_by TEXT REFERENCES documents (id),
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX documents_customer ON documents (customer_id, created_at);
CREATE INDEX documents_order ON documents (order_id, created_at);
CREATE INDEX documents_sha ON documents (sha256);
