//! Pure types and rules. No actix, no diesel.

pub mod custody;
pub mod followup;
pub mod messages;
pub mod order;
pub mod period;
pub mod personnummer;
pub mod role;

pub use order::{OrderEvent, OrderKind, OrderState, Service};
pub use period::{Period, PeriodError};
pub use personnummer::{Personnummer, PersonnummerError};
pub use role::{GroupKind, Role};
