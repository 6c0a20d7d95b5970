-- Registration of an installed alarm in the alarm-receiving platform (PNC or
-- another; seed 000 steps 3 and 12, issue 15): recorded by the alarm centre on
-- the install order, with the platform's reference; deregistered after the
-- alarm is cancelled or terminated. The order's history keeps each record.
ALTER TABLE orders ADD COLUMN platform_reference TEXT;
ALTER TABLE orders ADD COLUMN platform_registered_on DATE;
ALTER TABLE orders ADD COLUMN platform_deregistered_on DATE;
