-- Sign-in through the municipality's identity provider (OpenID Connect) and
-- provisioning by SCIM: the identity a user logs in with there, set ahead by
-- the admin or the provider. NULL: password login only.
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id ON users (external_id);

-- One login at the provider, from the redirect there to the ticket the app
-- redeems for its tokens. The state, the browser binding and the ticket are
-- stored as SHA-256 only; the nonce and the PKCE verifier live until the
-- callback uses them. A refusal is kept on the row the ticket names, so the
-- app shows the server's words. `family_id` and `id_token` name the Larmkoll
-- session it started, for the provider's logout.
CREATE TABLE oidc_logins (
    id TEXT PRIMARY KEY,
    state_hash TEXT UNIQUE,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    app TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    called_back_at TIMESTAMP,
    ticket_hash TEXT UNIQUE,
    user_id TEXT REFERENCES users (id),
    refusal_code TEXT,
    refusal_en TEXT,
    refusal_sv TEXT,
    redeemed_at TIMESTAMP,
    family_id TEXT,
    id_token TEXT
);
CREATE INDEX oidc_logins_family ON oidc_logins (family_id);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);
