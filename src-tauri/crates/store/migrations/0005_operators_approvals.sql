-- Operators at work, version 5: retrying with guidance, stale proposals replaced, and
-- notifications about approvals that wait too long.

-- An operator's guidance for the conversation's next run ("try again, and …"). Cleared in
-- the transaction that records that run's outcome, so a crash keeps it for the rerun.
ALTER TABLE conversations ADD COLUMN retry_guidance TEXT;

-- A proposal that replaces a stale one (e.g. a template instead of a free-form reply once
-- the 24-hour window has closed).
ALTER TABLE actions ADD COLUMN replaces_action_id INTEGER REFERENCES actions (id);

-- When operators were told this approval has waited too long; notified once.
ALTER TABLE actions ADD COLUMN wait_notified_at INTEGER;

CREATE INDEX examples_by_action ON examples (action_id);
