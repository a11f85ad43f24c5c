-- The knowledge bases chosen in a chat (`#` in the composer), kept with the session so that the
-- chat reopens with them: their ids, comma-separated (ids, not names: nothing a user wrote).
-- Readability is checked again whenever a turn uses them.

ALTER TABLE chat_sessions ADD COLUMN knowledge_bases TEXT NOT NULL DEFAULT '';
