-- Each context snapshot keeps the text of its four layers (system, domain, session,
-- request) as sent, so a run's record shows what each layer said, not only its size.
-- Snapshots stored before this have NULL.
ALTER TABLE context_snapshots ADD COLUMN layers TEXT CHECK (layers IS NULL OR json_valid(layers));
