DROP TABLE oidc_logins;
DROP INDEX users_external_id;
ALTER TABLE users DROP COLUMN external_id;
