DROP TABLE equipment_moves;
DROP TABLE equipment_items;
DROP TABLE equipment_models;
DROP TABLE key_moves;
DROP TABLE keys;
