-- Why an open order is waiting (väntar-orsak, issue 14): set by the team as a
-- contact of kind 'waiting' (the contact log keeps every one), shown on the
-- order, in the one-month follow-up and the stalled-order reports; cleared
-- when the order moves on. Not part of the order's version: a phone's queued
-- step still applies after someone notes why the order waits.
ALTER TABLE orders ADD COLUMN waiting_reason TEXT;
ALTER TABLE orders ADD COLUMN waiting_since TIMESTAMP;
