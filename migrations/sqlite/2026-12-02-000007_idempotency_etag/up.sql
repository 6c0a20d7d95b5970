-- A replayed response carries the ETag of the first one, as the spec documents.
ALTER TABLE idempotency_keys ADD COLUMN etag TEXT;
