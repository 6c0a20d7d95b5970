DROP TABLE message_reads;
DROP TABLE messages;
DROP TABLE billing_events;
DROP TABLE executions;
DROP TABLE order_contacts;
DROP TABLE order_transitions;
DROP TABLE orders;
DROP TABLE decisions;
