-- Reads of the operator console, version 6: the dashboard's daily figures and the audit
-- trail's filters scan by time, and the task list filters by assignee. Indexes only.
CREATE INDEX messages_by_time        ON messages (created_at);
CREATE INDEX escalations_by_time     ON escalations (created_at);
CREATE INDEX actions_by_decision     ON actions (decided_at) WHERE decided_at IS NOT NULL;
CREATE INDEX run_attempts_by_time    ON run_attempts (started_at);
CREATE INDEX audit_by_time           ON audit_events (at);
CREATE INDEX audit_by_kind           ON audit_events (kind, id);
CREATE INDEX tasks_by_assignee       ON tasks (assignee, id) WHERE assignee IS NOT NULL;
