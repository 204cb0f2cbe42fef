-- AI services, model aliases and token usage (PostgreSQL).
CREATE TABLE ai_services (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    kind                  TEXT NOT NULL,
    base_url              TEXT NOT NULL,
    -- The API key and extra headers, encrypted (never stored in clear).
    api_key_enc           TEXT,
    headers_enc           TEXT,
    header_names          TEXT NOT NULL,
    default_model         TEXT,
    azure_deployment      TEXT,
    azure_api_version     TEXT,
    timeout_connect_ms    BIGINT NOT NULL,
    timeout_first_byte_ms BIGINT NOT NULL,
    timeout_idle_ms       BIGINT NOT NULL,
    fallback_id           TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

CREATE TABLE ai_aliases (
    model        TEXT PRIMARY KEY,
    service_id   TEXT NOT NULL REFERENCES ai_services(id) ON DELETE CASCADE,
    target_model TEXT
);

CREATE TABLE ai_usage (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL,
    service_id        TEXT NOT NULL,
    model             TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE INDEX ai_usage_user_time ON ai_usage(user_id, created_at);
