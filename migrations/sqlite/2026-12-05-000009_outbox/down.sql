DROP TABLE webhook_subscriptions;
DROP TABLE user_mail;
DROP TABLE group_mailboxes;
DROP INDEX outbox_message;
DROP INDEX outbox_due;
DROP TABLE outbox;
