-- Canonical key numbers cannot be turned back into the forms they were typed in.
SELECT 1;
