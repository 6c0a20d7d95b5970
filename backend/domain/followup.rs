//! Follow-up of stalled orders (seed 004): when each rule is due. Pure dates.

use super::OrderState;
use chrono::{Datelike, Months, NaiveDate};

/// The rules of seed 004.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// An install order not executed one month after it was received.
    NotExecuted,
    /// Keys not received one month after the order.
    KeysNotReceived,
    /// No answer from the ordinary assessor: to the alarm leads.
    Escalation,
    /// Monthly: decisions not executed after three months (the IVO report's basis).
    ThreeMonthList,
    /// An alarm installed and running but not registered in the alarm platform,
    /// from the day after its installation: to the alarm centre (seed 000 step 3).
    NotRegistered,
    /// An alarm cancelled or terminated but still registered: to the alarm
    /// centre (seed 000 step 12).
    NotDeregistered,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotExecuted => "not_executed",
            Rule::KeysNotReceived => "keys_not_received",
            Rule::Escalation => "escalation",
            Rule::ThreeMonthList => "three_month_list",
            Rule::NotRegistered => "not_registered",
            Rule::NotDeregistered => "not_deregistered",
        }
    }
}

/// The first day a "one month after" rule is due: the same day of the next
/// month (or its last day), as a person counting on a calendar would.
pub fn one_month_after(received: NaiveDate) -> NaiveDate {
    received
        .checked_add_months(Months::new(1))
        .expect("a date a month later exists")
}

pub fn three_months_after(received: NaiveDate) -> NaiveDate {
    received
        .checked_add_months(Months::new(3))
        .expect("a date three months later exists")
}

/// An install order in this state is still waiting for the customer's keys:
/// the "keys not received" rule and report look at these.
pub fn keys_outstanding(state: OrderState) -> bool {
    matches!(
        state,
        OrderState::Received | OrderState::Booked | OrderState::ReturnedToAssessor
    )
}

/// Whether an alarm installed on `installed` and not registered is overdue
/// on `today`: the alarm centre has the installation day itself to do it.
pub fn registration_overdue(installed: Option<NaiveDate>, today: NaiveDate) -> bool {
    installed.is_none_or(|day| day < today)
}

/// The monthly period a date falls in, e.g. `2026-11`.
pub fn month_of(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_month_after_is_the_same_day_next_month_or_its_last_day() {
        assert_eq!(one_month_after(d("2026-10-15")), d("2026-11-15"));
        assert_eq!(one_month_after(d("2026-01-31")), d("2026-02-28"));
        assert_eq!(one_month_after(d("2026-12-31")), d("2027-01-31"));
        assert_eq!(three_months_after(d("2026-11-30")), d("2027-02-28"));
        assert_eq!(month_of(d("2026-03-09")), "2026-03");
    }

    #[test]
    fn registration_is_overdue_from_the_day_after_the_installation() {
        assert!(!registration_overdue(
            Some(d("2026-03-09")),
            d("2026-03-09")
        ));
        assert!(registration_overdue(Some(d("2026-03-09")), d("2026-03-10")));
        assert!(registration_overdue(None, d("2026-03-10")));
    }
}
