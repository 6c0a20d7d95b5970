-- Follow-up rules that fired: the unique key is the claim, so a rule fires
-- once per order and period even with several server instances.
CREATE TABLE followups (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    period TEXT NOT NULL,
    fired_at TIMESTAMP NOT NULL,
    UNIQUE (rule, subject_id, period)
);
CREATE INDEX followups_subject ON followups (subject_id);
