//! Pure types and rules. No actix, no diesel.

pub mod personnummer;
pub mod role;

pub use personnummer::{Personnummer, PersonnummerError};
pub use role::{GroupKind, Role};
