ALTER TABLE orders DROP COLUMN waiting_since;
ALTER TABLE orders DROP COLUMN waiting_reason;
