-- The meeting assistant panel's chats: a chat session tied to one meeting (its key) or to the
-- user's past meetings ('*'), one per user and scope. They stay out of the chat list; the
-- meeting's access is checked again at every turn, and deleting a meeting, or unsharing it with
-- someone, deletes their chats about it.

ALTER TABLE chat_sessions ADD COLUMN meeting TEXT;
CREATE UNIQUE INDEX chat_sessions_meeting ON chat_sessions (user_id, meeting) WHERE meeting IS NOT NULL;
CREATE INDEX chat_sessions_by_meeting ON chat_sessions (meeting) WHERE meeting IS NOT NULL;
