-- Files attached to a chat: a hidden knowledge base bound to one session, owned by the
-- session's user, never listed; deleting the session deletes it with its documents and chunks.

ALTER TABLE knowledge_bases ADD COLUMN session_id TEXT REFERENCES chat_sessions (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX knowledge_bases_session ON knowledge_bases (session_id);
