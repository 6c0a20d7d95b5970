-- Indexes for the desk's reports over a whole municipality (the reports
-- benchmark in the README: 250,000 customers, 1,000,000 orders).

-- Open install orders by age: not executed after one or three months, keys
-- not received. Equality on kind and state, then a range on received_at.
CREATE INDEX orders_kind_state_received ON orders (kind, state, received_at);

-- Booked visits in a date range, whoever the installer: the delivery list.
CREATE INDEX orders_visit_date ON orders (visit_date);

-- Items per model and state without reading the table: the equipment summary.
CREATE INDEX equipment_items_model_state ON equipment_items (model_id, state);

-- Items in a state already in the order listed (kind, serial); it covers
-- what (state, kind) did.
CREATE INDEX equipment_items_state_kind_serial ON equipment_items (state, kind, serial);
DROP INDEX equipment_items_state;
