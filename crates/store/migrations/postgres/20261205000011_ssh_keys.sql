-- A user's SSH key pair, made by the server: the public key in OpenSSH's
-- form, the private key's seed sealed at rest with the server's secret key
-- like AI keys. Served to the user's workspaces through their SSH agent
-- (signatures only), never written there.
CREATE TABLE ssh_keys (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
