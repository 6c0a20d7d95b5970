//! The application: one function per routine step, each in one transaction,
//! taking the acting user ([`Actor`](crate::domain::Actor)) and typed input
//! and returning domain values. The HTTP handlers (`api`), the command line
//! (`main.rs`) and the scheduler call this layer and nothing below it; it
//! asks `domain` to decide and `db` to persist.

mod unit_of_work;
