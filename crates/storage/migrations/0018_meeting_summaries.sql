-- Meeting summaries and the meeting templates (summary sections, shortcut buttons).
--
-- A meeting has at most one summary: its sections (Markdown) sealed in `body`, the meeting's id
-- as associated data; `status` says where its generation is (`pending`, `running`, `ready`,
-- `failed`), `generation` which request the row belongs to (a newer request supersedes a job
-- still running: only the job of the current generation may store), `notify` whether the
-- meeting-end webhook is still to be sent once it is done. The body kept while a new one is
-- generated is the last good one. Deleted with the meeting, and with its transcript.
CREATE TABLE meeting_summaries (
    meeting_id TEXT PRIMARY KEY REFERENCES meetings (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    generation BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    notify BIGINT NOT NULL,
    extractive BIGINT NOT NULL,
    model_id TEXT,
    body {{BLOB}},
    error TEXT,
    generated_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX meeting_summaries_status ON meeting_summaries (status);

-- LMA's default/custom pattern: `layer` 'default' rows are the ones the binary ships, replaced at
-- start-up by a newer binary (the version they came with is in `meta`); 'custom' rows are the
-- administrators', never touched by an upgrade. A custom row overrides the default of the same
-- key (or adds one, or hides it: `enabled` = 0). Administrators' configuration, not users'
-- content: in the clear, as the catalog's prompts are.
CREATE TABLE meeting_templates (
    kind TEXT NOT NULL,
    layer TEXT NOT NULL,
    template_key TEXT NOT NULL,
    label TEXT NOT NULL,
    body TEXT NOT NULL,
    position BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, layer, template_key)
);
