-- Branching chat history (issue 16: edit a sent message, regenerate an answer, keep both).
-- Each message follows a parent (the message before it on its branch; NULL for a first
-- message), and a session has an active leaf: the history is the path from the root to it.
-- Existing sessions are linear: each message's parent is the one before it, and the leaf is
-- the newest message.

ALTER TABLE chat_messages ADD COLUMN parent_id TEXT;
ALTER TABLE chat_sessions ADD COLUMN active_leaf TEXT;

UPDATE chat_messages SET parent_id = (
    SELECT p.id FROM chat_messages p
    WHERE p.session_id = chat_messages.session_id AND p.seq < chat_messages.seq
    ORDER BY p.seq DESC LIMIT 1
);
UPDATE chat_sessions SET active_leaf = (
    SELECT m.id FROM chat_messages m WHERE m.session_id = chat_sessions.id ORDER BY m.seq DESC LIMIT 1
);

CREATE INDEX chat_messages_parent ON chat_messages (session_id, parent_id, seq);
