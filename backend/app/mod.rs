//! The application: one function per routine step, each in one transaction,
//! taking the acting user ([`Actor`](crate::domain::Actor)) and typed input
//! and returning domain values. The HTTP handlers (`api`), the command line
//! (`main.rs`) and the scheduler call this layer and nothing below it; it
//! asks `domain` to decide and `db` to persist.

pub mod audit;
pub mod customers;
pub mod decisions;
pub mod documents;
pub mod equipment;
pub mod executions;
pub mod followup;
pub mod import;
pub mod keys;
pub mod messages;
pub mod notify;
pub mod orders;
pub mod org;
pub mod outbox;
pub mod provisioning;
pub mod reports;
pub mod sessions;
mod unit_of_work;
pub mod validation;
