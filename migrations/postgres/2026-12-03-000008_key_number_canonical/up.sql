-- Key numbers in their canonical form (domain::custody::KeyNumber): trimmed,
-- upper-case, every run of spaces and dashes one '-', none at either end.
-- A row whose canonical form another row also has is left as it is: the two
-- are one key twice, for a person to merge; the canonical one is what lookups find.
CREATE TEMP TABLE key_number_canonical AS
SELECT id, btrim(
    regexp_replace(upper(key_number), '[[:space:]\u00a0\u2010-\u2015\u2212-]+', '-', 'g'),
    '-') AS canonical
FROM keys;

UPDATE keys
SET key_number = c.canonical
FROM key_number_canonical c
WHERE c.id = keys.id
  AND c.canonical <> keys.key_number
  AND c.canonical <> ''
  AND (SELECT count(*) FROM key_number_canonical d WHERE d.canonical = c.canonical) = 1;

DROP TABLE key_number_canonical;
