DROP INDEX messages_thread;
ALTER TABLE messages DROP COLUMN copy;
ALTER TABLE messages DROP COLUMN post_id;
ALTER TABLE messages DROP COLUMN thread_id;
