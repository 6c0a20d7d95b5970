-- Key numbers in their canonical form (domain::custody::KeyNumber): trimmed,
-- upper-case, every run of spaces and dashes one '-', none at either end.
-- SQLite's upper() knows only ASCII, so å, ä, ö, é and ü are replaced by hand.
-- A row whose canonical form another row also has is left as it is: the two
-- are one key twice, for a person to merge; the canonical one is what lookups find.
CREATE TEMP TABLE key_number_canonical AS
SELECT id, trim(
    replace(replace(replace(replace(replace(replace(
        replace(replace(replace(replace(replace(replace(replace(replace(
            replace(replace(replace(replace(replace(
                upper(trim(key_number, ' ' || char(9) || char(10) || char(13) || char(160))),
                'å', 'Å'), 'ä', 'Ä'), 'ö', 'Ö'), 'é', 'É'), 'ü', 'Ü'),
            ' ', '-'), char(9), '-'), char(10), '-'), char(13), '-'),
            char(160), '-'), char(8211), '-'), char(8212), '-'), char(8722), '-'),
        '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'), '--', '-'),
    '-') AS canonical
FROM keys;

UPDATE keys
SET key_number = (SELECT c.canonical FROM key_number_canonical c WHERE c.id = keys.id)
WHERE id IN (
    SELECT c.id FROM key_number_canonical c JOIN keys k ON k.id = c.id
    WHERE c.canonical <> k.key_number
      AND c.canonical <> ''
      AND (SELECT count(*) FROM key_number_canonical d WHERE d.canonical = c.canonical) = 1
);

DROP TABLE key_number_canonical;
