//! Pure types and rules. No actix, no diesel.

/// `as_str` and `FromStr` for an enum stored as text, from one list of names
/// (the same names serde uses), so the two can never disagree.
macro_rules! text_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok(Self::$v),)* other => Err(format!("unknown {} '{other}'", stringify!($t))) }
            }
        }
    };
}

pub mod actor;
pub mod calendar;
pub mod custody;
pub mod followup;
pub mod lifecycle;
pub mod messages;
pub mod order;
pub mod period;
pub mod personnummer;
pub mod role;

pub use actor::{Actor, CustomerScope, Membership, RequestContext};
pub use order::{OrderEvent, OrderKind, OrderState, Service};
pub use period::{DayNotAllowed, Period, PeriodError};
pub use personnummer::{Personnummer, PersonnummerError};
pub use role::{GroupKind, Role};
