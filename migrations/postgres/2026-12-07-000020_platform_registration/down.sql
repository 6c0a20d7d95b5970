ALTER TABLE orders DROP COLUMN platform_deregistered_on;
ALTER TABLE orders DROP COLUMN platform_registered_on;
ALTER TABLE orders DROP COLUMN platform_reference;
