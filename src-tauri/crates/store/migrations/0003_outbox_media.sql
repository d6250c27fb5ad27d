-- WhatsApp channel, version 3: sending in order per recipient, an operator's decision on a
-- send whose outcome was lost, and media downloaded on demand.

-- Who a send goes to, derived from the stored request so the two can never disagree. The
-- worker sends one message at a time per recipient, oldest first, so a customer never gets
-- a later message before an earlier one (a retry included).
ALTER TABLE outbox ADD COLUMN recipient TEXT GENERATED ALWAYS AS (json_extract(request, '$.to')) VIRTUAL;
CREATE INDEX outbox_open_by_recipient ON outbox (recipient, id) WHERE state IN ('queued', 'sending');
CREATE INDEX outbox_unknown ON outbox (id) WHERE state = 'unknown';

-- When an operator said an `unknown` send never reached WhatsApp and queued it again. Set
-- once: a second "not sent" for the same message is refused, so a lost outcome can never
-- turn into a loop of duplicates.
ALTER TABLE outbox ADD COLUMN requeued_at INTEGER;

-- Media fetched from the Graph API into `<data_dir>/media`, so it is downloaded once.
CREATE TABLE media_files (
    media_id      TEXT    PRIMARY KEY,
    -- The file's name in `<data_dir>/media`: `<sha256>.<ext>`, named by content.
    file_name     TEXT    NOT NULL,
    mime_type     TEXT    NOT NULL,
    sha256        TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    downloaded_at INTEGER NOT NULL
);
