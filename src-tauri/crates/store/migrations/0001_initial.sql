-- Switchboard schema, version 1: the whole mission's tables.
-- Never edit a shipped migration; add a new file instead.
-- Times are INTEGER milliseconds since the Unix epoch (UTC).
-- JSON columns hold compact JSON text and are checked with json_valid().

CREATE TABLE operators (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    email         TEXT    UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('agent', 'supervisor', 'owner')),
    -- SHA-256 of the operator's API token; the token itself is never stored.
    token_hash    TEXT    UNIQUE,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL
);

-- A customer, keyed by phone (wa_id) or business-scoped user id, per business number.
CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    phone_number_id TEXT    NOT NULL,
    wa_id           TEXT,
    user_id         TEXT,
    name            TEXT,
    profile         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(profile)),
    sandbox         INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK (wa_id IS NOT NULL OR user_id IS NOT NULL)
);
CREATE UNIQUE INDEX contacts_by_wa_id   ON contacts (phone_number_id, wa_id)   WHERE wa_id IS NOT NULL;
CREATE UNIQUE INDEX contacts_by_user_id ON contacts (phone_number_id, user_id) WHERE user_id IS NOT NULL;

-- One WhatsApp thread per contact; a closed conversation reopens when the customer writes.
CREATE TABLE conversations (
    id                       INTEGER PRIMARY KEY,
    contact_id               INTEGER NOT NULL UNIQUE REFERENCES contacts (id),
    phone_number_id          TEXT    NOT NULL,
    state                    TEXT    NOT NULL DEFAULT 'ai_active'
                             CHECK (state IN ('ai_active', 'awaiting_approval', 'escalated', 'human', 'closed')),
    unread_count             INTEGER NOT NULL DEFAULT 0,
    last_message_at          INTEGER,
    last_message_preview     TEXT,
    -- Opens the 24-hour customer-service window.
    last_customer_message_at INTEGER,
    -- The running summary kept in the session context layer.
    summary                  TEXT,
    tags                     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    assigned_operator_id     INTEGER REFERENCES operators (id),
    -- Set while a human has taken the conversation over; no pipeline run starts then.
    held_by_operator_id      INTEGER REFERENCES operators (id),
    sandbox                  INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1)),
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
);
CREATE INDEX conversations_by_recency ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_by_state   ON conversations (state, last_message_at DESC);

CREATE TABLE session_variables (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    key             TEXT    NOT NULL,
    value           TEXT    NOT NULL CHECK (json_valid(value)),
    set_by          TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, key)
);

-- Raw webhook bodies, stored before the 200 is sent; processed afterwards.
CREATE TABLE webhook_inbox (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('whatsapp', 'sandbox')),
    body         BLOB    NOT NULL,
    signature    TEXT,
    state        TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'processed', 'ignored', 'failed')),
    error        TEXT,
    processed_at INTEGER
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (id) WHERE state = 'pending';
CREATE INDEX webhook_inbox_failed  ON webhook_inbox (id) WHERE state = 'failed';

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    conversation_id     INTEGER NOT NULL REFERENCES conversations (id),
    direction           TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    -- WhatsApp's id; unique so a redelivered inbound message is stored once.
    wamid               TEXT    UNIQUE,
    kind                TEXT    NOT NULL,
    text                TEXT,
    content             TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(content)),
    reply_to_wamid      TEXT,
    inbox_id            INTEGER REFERENCES webhook_inbox (id),
    sent_by             TEXT,
    sent_by_operator_id INTEGER REFERENCES operators (id),
    action_id           INTEGER REFERENCES actions (id),
    -- inbound: received; outbound: queued, sending, unknown, sent, delivered, read, played, failed.
    status              TEXT    NOT NULL,
    status_at           INTEGER,
    error_code          INTEGER,
    error_title         TEXT,
    error_details       TEXT,
    -- A failure after `sent` reopens the message for an operator.
    needs_attention     INTEGER NOT NULL DEFAULT 0 CHECK (needs_attention IN (0, 1)),
    wa_timestamp        INTEGER,
    sandbox             INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1)),
    created_at          INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE INDEX messages_needing_attention ON messages (id) WHERE needs_attention = 1;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.text IS NOT NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
    INSERT INTO messages_fts (rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL;
END;

-- Status webhooks seen, so a redelivered (wamid, status) is applied once.
CREATE TABLE message_status_events (
    wamid      TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    timestamp  INTEGER NOT NULL,
    raw        TEXT    NOT NULL CHECK (json_valid(raw)),
    PRIMARY KEY (wamid, status)
);

-- Outbound messages waiting to be sent, in flight, or settled.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    idempotency_key TEXT    NOT NULL UNIQUE,
    request         TEXT    NOT NULL CHECK (json_valid(request)),
    -- `sending` at start-up means the process died mid-send: it becomes `unknown`, never resent blindly.
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unknown', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'queued';

-- Versioned, editable context layers (system and domain); runs record which version they used.
CREATE TABLE context_layers (
    id         INTEGER PRIMARY KEY,
    layer      TEXT    NOT NULL CHECK (layer IN ('system', 'domain')),
    version    INTEGER NOT NULL,
    content    TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (layer, version)
);

-- The exact context a model saw, content-addressed so identical snapshots are stored once.
CREATE TABLE context_snapshots (
    id             INTEGER PRIMARY KEY,
    hash           TEXT    NOT NULL UNIQUE,
    messages       TEXT    NOT NULL CHECK (json_valid(messages)),
    layer_tokens   TEXT    NOT NULL CHECK (json_valid(layer_tokens)),
    layer_versions TEXT    NOT NULL CHECK (json_valid(layer_versions)),
    model          TEXT,
    schema_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE pipeline_runs (
    id                  INTEGER PRIMARY KEY,
    conversation_id     INTEGER NOT NULL REFERENCES conversations (id),
    trigger_message_ids TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(trigger_message_ids)),
    state               TEXT    NOT NULL
                        CHECK (state IN ('queued', 'running', 'completed', 'escalated', 'failed', 'cancelled', 'superseded')),
    -- The recovery tier the run ended at: 0 first try, 1 corrective retry, 2 fallback model, 3 escalation.
    tier                INTEGER NOT NULL DEFAULT 0 CHECK (tier BETWEEN 0 AND 3),
    provider            TEXT,
    model               TEXT,
    guidance            TEXT,
    started_at          INTEGER NOT NULL,
    finished_at         INTEGER,
    error               TEXT
);
CREATE INDEX pipeline_runs_by_conversation ON pipeline_runs (conversation_id, id);
CREATE INDEX pipeline_runs_unfinished ON pipeline_runs (id) WHERE state IN ('queued', 'running');

-- Every call to a model within a run, with its raw output and accounting.
CREATE TABLE run_attempts (
    id                  INTEGER PRIMARY KEY,
    run_id              INTEGER NOT NULL REFERENCES pipeline_runs (id),
    attempt             INTEGER NOT NULL,
    tier                INTEGER NOT NULL CHECK (tier BETWEEN 0 AND 3),
    provider            TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    context_snapshot_id INTEGER REFERENCES context_snapshots (id),
    raw_output          TEXT,
    validation_errors   TEXT    CHECK (validation_errors IS NULL OR json_valid(validation_errors)),
    error               TEXT,
    tokens_in           INTEGER,
    tokens_out          INTEGER,
    tokens_estimated    INTEGER NOT NULL DEFAULT 0 CHECK (tokens_estimated IN (0, 1)),
    cost                REAL,
    ttft_ms             INTEGER,
    latency_ms          INTEGER,
    started_at          INTEGER NOT NULL,
    finished_at         INTEGER,
    UNIQUE (run_id, attempt)
);

CREATE TABLE actions (
    id                     INTEGER PRIMARY KEY,
    run_id                 INTEGER REFERENCES pipeline_runs (id),
    conversation_id        INTEGER NOT NULL REFERENCES conversations (id),
    kind                   TEXT    NOT NULL,
    params                 TEXT    NOT NULL CHECK (json_valid(params)),
    -- The model's parameters when an operator edited them (params then holds the edit).
    original_params        TEXT    CHECK (original_params IS NULL OR json_valid(original_params)),
    edit_diff              TEXT,
    reasoning              TEXT,
    confidence             REAL,
    state                  TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'executing', 'executed',
                                                              'failed', 'superseded', 'stale', 'forbidden')),
    policy_decision        TEXT    CHECK (policy_decision IS NULL OR json_valid(policy_decision)),
    -- Executing twice is prevented by this key, also across restarts.
    idempotency_key        TEXT    NOT NULL UNIQUE,
    decided_by_operator_id INTEGER REFERENCES operators (id),
    decided_by             TEXT,
    decided_at             INTEGER,
    decision_note          TEXT,
    result                 TEXT    CHECK (result IS NULL OR json_valid(result)),
    error                  TEXT,
    executed_at            INTEGER,
    superseded_by_run_id   INTEGER REFERENCES pipeline_runs (id),
    created_at             INTEGER NOT NULL
);
CREATE INDEX actions_by_state        ON actions (state, created_at);
CREATE INDEX actions_by_conversation ON actions (conversation_id, id);

CREATE TABLE escalations (
    id                   INTEGER PRIMARY KEY,
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id),
    source               TEXT    NOT NULL CHECK (source IN ('model', 'tier3', 'policy', 'operator')),
    reason               TEXT    NOT NULL,
    summary              TEXT,
    state                TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'taken', 'resolved')),
    run_id               INTEGER REFERENCES pipeline_runs (id),
    action_id            INTEGER REFERENCES actions (id),
    taken_by_operator_id INTEGER REFERENCES operators (id),
    taken_by             TEXT,
    taken_at             INTEGER,
    resolved_at          INTEGER,
    handback_note        TEXT,
    created_at           INTEGER NOT NULL
);
CREATE INDEX escalations_by_state ON escalations (state, created_at);
CREATE UNIQUE INDEX escalations_one_active_per_conversation
    ON escalations (conversation_id) WHERE state IN ('open', 'taken');

CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations (id),
    action_id       INTEGER REFERENCES actions (id),
    title           TEXT    NOT NULL,
    description     TEXT,
    assignee        TEXT,
    due_at          INTEGER,
    priority        TEXT    NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    state           TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'cancelled')),
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    completed_at    INTEGER
);
CREATE INDEX tasks_by_state ON tasks (state, due_at);

CREATE TABLE followups (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    action_id       INTEGER REFERENCES actions (id),
    due_at          INTEGER NOT NULL,
    note            TEXT,
    state           TEXT    NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'fired', 'cancelled')),
    created_at      INTEGER NOT NULL
);
CREATE INDEX followups_due ON followups (due_at) WHERE state = 'scheduled';

CREATE TABLE knowledge_documents (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE VIRTUAL TABLE knowledge_fts USING fts5 (
    title, body, content = 'knowledge_documents', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_documents BEGIN
    INSERT INTO knowledge_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_documents BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON knowledge_documents BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO knowledge_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;

-- Operators' decisions kept as labelled examples for the domain layer.
CREATE TABLE examples (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations (id),
    action_id       INTEGER REFERENCES actions (id),
    label           TEXT    NOT NULL CHECK (label IN ('approved', 'edited', 'rejected')),
    request_text    TEXT    NOT NULL,
    proposed        TEXT    NOT NULL CHECK (json_valid(proposed)),
    final           TEXT    CHECK (final IS NULL OR json_valid(final)),
    note            TEXT,
    created_at      INTEGER NOT NULL
);
CREATE VIRTUAL TABLE examples_fts USING fts5 (
    request_text, content = 'examples', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER examples_fts_insert AFTER INSERT ON examples BEGIN
    INSERT INTO examples_fts (rowid, request_text) VALUES (new.id, new.request_text);
END;

-- Action policies, versioned; the newest version is in force.
CREATE TABLE policies (
    id         INTEGER PRIMARY KEY,
    version    INTEGER NOT NULL UNIQUE,
    rules      TEXT    NOT NULL CHECK (json_valid(rules)),
    author     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Message templates known to be approved by Meta (synced or configured).
CREATE TABLE templates (
    name       TEXT    NOT NULL,
    language   TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    components TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(components)),
    status     TEXT    NOT NULL DEFAULT 'approved',
    PRIMARY KEY (name, language)
);

-- Settings edited in the console (never secrets: those live in the OS keyring).
CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    updated_by TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The audit trail: append-only and hash-chained.
CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor_kind      TEXT    NOT NULL CHECK (actor_kind IN ('system', 'model', 'operator')),
    actor           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    conversation_id INTEGER,
    run_id          INTEGER,
    action_id       INTEGER,
    detail          TEXT    NOT NULL CHECK (json_valid(detail)),
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL UNIQUE
);
CREATE INDEX audit_by_conversation ON audit_events (conversation_id, id);
CREATE INDEX audit_by_action       ON audit_events (action_id, id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
