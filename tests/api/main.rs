//! API tests: the real app over HTTP against a real database, each test on
//! SQLite and on PostgreSQL.

mod helpers;
mod papers;
mod steps;

mod attacks;
mod auth;
mod authz;
mod backup;
mod browser;
mod cli;
mod clients;
mod contract;
mod conversations;
mod crash;
mod custody;
mod customers;
mod demo;
mod documents;
mod errors;
mod faults;
mod followup;
mod health;
mod hostile;
mod hostile_documents;
mod hostile_import;
mod idempotency;
mod import;
mod lifecycle;
mod lifecycle_document;
mod metrics;
mod migrations;
mod notices;
mod oidc;
mod openapi;
mod org;
mod outbox;
mod reports;
mod routine_rules;
mod s3;
mod scim;
mod slow_clients;
