//! Domain values stored as text, read back typed: a row carries an
//! `OrderState`, not a string each caller must parse again. `domain` knows
//! nothing of diesel; the conversions live here, over the `Text` columns of
//! both backends (diesel's MultiBackend).

use super::MultiBackend;
use crate::domain::custody::{EquipmentKind, ItemState, KeyCustody};
use crate::domain::{GroupKind, OrderEvent, OrderKind, OrderState, Role, Service};
use diesel::deserialize;
use diesel::expression::AsExpression;
use diesel::sql_types::Text;
use diesel::Queryable;

/// Reading: the stored name parsed, or a deserialization error naming the
/// value (a row no release wrote). Writing: the same name, as text.
macro_rules! stored_as_text {
    ($($t:ty),* $(,)?) => {$(
        impl Queryable<Text, MultiBackend> for $t {
            type Row = String;
            fn build(stored: String) -> deserialize::Result<Self> {
                stored.parse().map_err(|e: String| e.into())
            }
        }
        impl AsExpression<Text> for $t {
            type Expression = <&'static str as AsExpression<Text>>::Expression;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }
        impl AsExpression<Text> for &$t {
            type Expression = <&'static str as AsExpression<Text>>::Expression;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }
    )*};
}

stored_as_text!(
    OrderKind,
    OrderState,
    OrderEvent,
    Service,
    Role,
    GroupKind,
    KeyCustody,
    ItemState,
    EquipmentKind,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: Queryable<Text, MultiBackend>>(stored: &str) -> deserialize::Result<T>
    where
        T::Row: From<String>,
    {
        T::build(stored.to_string().into())
    }

    #[test]
    fn a_stored_name_reads_back_as_its_value_and_nothing_else_does() {
        assert_eq!(read::<Role>("assessor").unwrap(), Role::Assessor);
        // A role no release wrote is refused at the row, so it can hold no duty.
        assert!(read::<Role>("Assessor ").is_err());
        for state in OrderState::ALL {
            assert_eq!(read::<OrderState>(state.as_str()).unwrap(), state);
        }
        assert!(read::<OrderKind>("installation").is_err());
        assert_eq!(
            read::<Service>("digital_lock").unwrap(),
            Service::DigitalLock
        );
    }
}
