CREATE INDEX equipment_items_state ON equipment_items (state, kind);
DROP INDEX equipment_items_state_kind_serial;
DROP INDEX equipment_items_model_state;
DROP INDEX orders_visit_date;
DROP INDEX orders_kind_state_received;
