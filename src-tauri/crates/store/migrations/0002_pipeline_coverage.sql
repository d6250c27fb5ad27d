-- The newest inbound message the AI (or a human who took over) has answered, per
-- conversation: messages after it still need an outcome. Runs record what they covered.
ALTER TABLE conversations ADD COLUMN ai_covered_message_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pipeline_runs ADD COLUMN covered_message_id INTEGER;
ALTER TABLE pipeline_runs ADD COLUMN context_snapshot_id INTEGER REFERENCES context_snapshots (id);
ALTER TABLE pipeline_runs ADD COLUMN reasoning TEXT;
ALTER TABLE pipeline_runs ADD COLUMN confidence REAL;
CREATE INDEX messages_inbound_by_conversation ON messages (conversation_id, id) WHERE direction = 'inbound';
