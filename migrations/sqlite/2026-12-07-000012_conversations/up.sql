-- Conversations (issue 14): a message is one post to one addressee (a person,
-- a group or a role); the rows of one post share `post_id`, the posts of one
-- thread share `thread_id` (the first post's id), and `copy` marks an addressee
-- in copy (kopia). A routine's notice is a post of its own, so a reply to it
-- starts from it. Existing messages each become their own post and thread.
ALTER TABLE messages ADD COLUMN thread_id TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN post_id TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN copy BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE messages SET thread_id = id, post_id = id;
CREATE INDEX messages_thread ON messages (thread_id, created_at);
