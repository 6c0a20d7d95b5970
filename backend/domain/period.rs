//! Validity periods of decisions, and the check that an extension follows its
//! predecessor with neither a gap nor an overlap (seed 003).

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

/// From a date, to a date (inclusive) or until further notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Period {
    pub from: NaiveDate,
    /// `None`: until further notice (tills vidare).
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends ({to}) before it starts ({from})")]
    EndsBeforeStart { from: NaiveDate, to: NaiveDate },
    #[error("the previous decision is valid until further notice, so any extension overlaps it")]
    PreviousOpenEnded,
    #[error("gap of {days} day(s): {first} to {last} are not covered by either decision")]
    Gap {
        first: NaiveDate,
        last: NaiveDate,
        days: i64,
    },
    #[error("overlap of {days} day(s): {first} to {last} are covered by both decisions")]
    Overlap {
        first: NaiveDate,
        last: NaiveDate,
        days: i64,
    },
}

impl PeriodError {
    /// The same, in Swedish.
    pub fn sv(&self) -> String {
        match self {
            Self::EndsBeforeStart { from, to } => {
                format!("perioden slutar ({to}) innan den börjar ({from})")
            }
            Self::PreviousOpenEnded => {
                "det förra beslutet gäller tills vidare, så varje förlängning överlappar det"
                    .to_string()
            }
            Self::Gap { first, last, days } => format!(
                "ett glapp på {days} dag(ar): {first} till {last} täcks inte av något av besluten"
            ),
            Self::Overlap { first, last, days } => format!(
                "en överlappning på {days} dag(ar): {first} till {last} täcks av båda besluten"
            ),
        }
    }
}

/// A day an event of a decision is dated (an installation, an execution's
/// start) that the decision does not allow: outside its period, or after today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayNotAllowed {
    pub day: NaiveDate,
    pub period: Period,
    /// The first and last day allowed, `None` when no day is allowed yet (the
    /// decision starts after today).
    pub allowed: Option<(NaiveDate, NaiveDate)>,
}

/// Which bound a refused day is past.
enum Why {
    BeforeFirst(NaiveDate),
    AfterLast(NaiveDate),
    AfterToday,
}

impl DayNotAllowed {
    fn why(&self) -> Why {
        match self.period.to {
            _ if self.day < self.period.from => Why::BeforeFirst(self.period.from),
            Some(to) if self.day > to => Why::AfterLast(to),
            _ => Why::AfterToday,
        }
    }

    /// "is before the decision's first day (2026-03-01); allowed: 2026-03-01 to 2026-03-20".
    pub fn en(&self) -> String {
        let why = match self.why() {
            Why::BeforeFirst(day) => format!("is before the decision's first day ({day})"),
            Why::AfterLast(day) => format!("is after the decision's last day ({day})"),
            Why::AfterToday => "is later than today".to_string(),
        };
        match self.allowed {
            Some((first, last)) => format!("{} {why}; allowed: {first} to {last}", self.day),
            None => format!(
                "{} {why}; no day is allowed yet: the decision starts on {}",
                self.day, self.period.from
            ),
        }
    }

    /// The same in Swedish, telling which days to choose.
    pub fn sv(&self) -> String {
        let why = match self.why() {
            Why::BeforeFirst(day) => format!("är före beslutets första dag ({day})"),
            Why::AfterLast(day) => format!("är efter beslutets sista dag ({day})"),
            Why::AfterToday => "är senare än i dag".to_string(),
        };
        match self.allowed {
            Some((first, last)) if first == last => {
                format!("{} {why}; det enda datum som går är {first}", self.day)
            }
            Some((first, last)) => {
                format!(
                    "{} {why}; välj ett datum från {first} till {last}",
                    self.day
                )
            }
            None => format!(
                "{} {why}; inget datum går ännu, beslutet gäller från {}",
                self.day, self.period.from
            ),
        }
    }
}

impl Period {
    pub fn new(from: NaiveDate, to: Option<NaiveDate>) -> Result<Self, PeriodError> {
        match to {
            Some(to) if to < from => Err(PeriodError::EndsBeforeStart { from, to }),
            _ => Ok(Self { from, to }),
        }
    }

    /// The days an event of this decision may be dated on `today`: within
    /// the period and not later than today; `None` before the period starts.
    pub fn days_allowed(&self, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        let last = self.to.map_or(today, |to| to.min(today));
        (last >= self.from).then_some((self.from, last))
    }

    /// Checks that `day` is one of [`Period::days_allowed`].
    pub fn check_dated(&self, day: NaiveDate, today: NaiveDate) -> Result<(), DayNotAllowed> {
        let allowed = self.days_allowed(today);
        match allowed {
            Some((first, last)) if (first..=last).contains(&day) => Ok(()),
            _ => Err(DayNotAllowed {
                day,
                period: *self,
                allowed,
            }),
        }
    }

    /// Checks that `next` starts the day after `self` ends.
    pub fn check_followed_by(&self, next: &Period) -> Result<(), PeriodError> {
        let Some(end) = self.to else {
            return Err(PeriodError::PreviousOpenEnded);
        };
        let expected = end + Duration::days(1);
        if next.from > expected {
            let last = next.from - Duration::days(1);
            return Err(PeriodError::Gap {
                first: expected,
                last,
                days: (last - expected).num_days() + 1,
            });
        }
        if next.from < expected {
            let last = match next.to {
                Some(t) if t < end => t,
                _ => end,
            };
            return Err(PeriodError::Overlap {
                first: next.from,
                last,
                days: (last - next.from).num_days() + 1,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn p(from: &str, to: Option<&str>) -> Period {
        Period::new(d(from), to.map(d)).unwrap()
    }

    #[test]
    fn an_extension_starting_the_next_day_is_accepted() {
        assert_eq!(
            p("2026-01-01", Some("2026-06-30")).check_followed_by(&p("2026-07-01", None)),
            Ok(())
        );
    }

    #[test]
    fn a_gap_names_the_uncovered_days() {
        let err = p("2026-01-01", Some("2026-06-30"))
            .check_followed_by(&p("2026-07-04", None))
            .unwrap_err();
        assert_eq!(
            err,
            PeriodError::Gap {
                first: d("2026-07-01"),
                last: d("2026-07-03"),
                days: 3
            }
        );
        assert_eq!(
            err.to_string(),
            "gap of 3 day(s): 2026-07-01 to 2026-07-03 are not covered by either decision"
        );
    }

    #[test]
    fn an_overlap_names_the_doubly_covered_days() {
        let err = p("2026-01-01", Some("2026-06-30"))
            .check_followed_by(&p("2026-06-29", Some("2026-12-31")))
            .unwrap_err();
        assert_eq!(
            err,
            PeriodError::Overlap {
                first: d("2026-06-29"),
                last: d("2026-06-30"),
                days: 2
            }
        );
        let inside = p("2026-01-01", Some("2026-06-30"))
            .check_followed_by(&p("2026-03-01", Some("2026-03-10")))
            .unwrap_err();
        assert_eq!(
            inside,
            PeriodError::Overlap {
                first: d("2026-03-01"),
                last: d("2026-03-10"),
                days: 10
            }
        );
    }

    #[test]
    fn a_day_must_lie_within_the_period_and_not_after_today() {
        let today = d("2026-03-20");
        let period = p("2026-03-01", Some("2026-06-30"));
        assert_eq!(period.check_dated(d("2026-03-01"), today), Ok(()));
        assert_eq!(period.check_dated(d("2026-03-20"), today), Ok(()));
        let before = period.check_dated(d("2026-02-27"), today).unwrap_err();
        assert_eq!(before.allowed, Some((d("2026-03-01"), d("2026-03-20"))));
        assert_eq!(
            before.sv(),
            "2026-02-27 är före beslutets första dag (2026-03-01); välj ett datum från 2026-03-01 till 2026-03-20"
        );
        assert_eq!(
            before.en(),
            "2026-02-27 is before the decision's first day (2026-03-01); allowed: 2026-03-01 to 2026-03-20"
        );
        let ended = p("2026-01-01", Some("2026-01-31"));
        let after = ended.check_dated(d("2026-02-01"), today).unwrap_err();
        assert_eq!(
            after.sv(),
            "2026-02-01 är efter beslutets sista dag (2026-01-31); välj ett datum från 2026-01-01 till 2026-01-31"
        );
        let future = p("2026-03-21", None);
        let not_yet = future.check_dated(d("2026-03-21"), today).unwrap_err();
        assert_eq!(not_yet.allowed, None);
        assert!(not_yet
            .sv()
            .contains("inget datum går ännu, beslutet gäller från 2026-03-21"));
        let open = p("2026-03-20", None);
        assert!(open
            .check_dated(d("2026-03-21"), today)
            .unwrap_err()
            .sv()
            .contains("det enda datum som går är 2026-03-20"));
    }

    #[test]
    fn open_ended_predecessor_and_backwards_periods_are_refused() {
        assert_eq!(
            p("2026-01-01", None).check_followed_by(&p("2026-07-01", None)),
            Err(PeriodError::PreviousOpenEnded)
        );
        assert!(matches!(
            Period::new(d("2026-02-01"), Some(d("2026-01-01"))),
            Err(PeriodError::EndsBeforeStart { .. })
        ));
    }
}
