//! Swedish personal identity numbers (personnummer) and coordination numbers
//! (samordningsnummer), parsed into one canonical 12-digit form.

use chrono::{Datelike, NaiveDate};
use std::fmt;

/// A validated personnummer or samordningsnummer, stored as `YYYYMMDDNNNC`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Personnummer(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonnummerError {
    #[error("a personnummer has 10 or 12 digits, optionally with '-' or '+' before the last four")]
    Format,
    #[error("the date part is not a real date")]
    Date,
    #[error("the check digit is wrong (Luhn)")]
    CheckDigit,
    #[error("the birth date lies in the future")]
    Future,
}

impl PersonnummerError {
    /// The same, in Swedish.
    pub fn sv(&self) -> String {
        match self {
            Self::Format => "ett personnummer har 10 eller 12 siffror, gärna med '-' eller '+' före de fyra sista",
            Self::Date => "datumdelen är inget verkligt datum",
            Self::CheckDigit => "kontrollsiffran stämmer inte; kontrollera numret",
            Self::Future => "födelsedatumet ligger i framtiden",
        }
        .to_string()
    }
}

impl Personnummer {
    /// Parses the common written forms: `YYMMDD-NNNC`, `YYMMDD+NNNC` (100 years or
    /// older), `YYMMDDNNNC`, `YYYYMMDD-NNNC` and `YYYYMMDDNNNC`. The century of a
    /// 10-digit number is inferred relative to `today`, as Skatteverket describes.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, PersonnummerError> {
        let trimmed: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let (digits, separator) = split_separator(&trimmed)?;
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(PersonnummerError::Format);
        }
        let full = match digits.len() {
            12 => {
                if separator == Some('+') {
                    return Err(PersonnummerError::Format);
                }
                digits.to_string()
            }
            10 => {
                let yy: i32 = digits[0..2]
                    .parse()
                    .map_err(|_| PersonnummerError::Format)?;
                let mut year = today.year() - (today.year() - yy).rem_euclid(100);
                let candidate = format!("{year:04}{}", &digits[2..]);
                if birth_date_of(&candidate).is_some_and(|d| d > today) {
                    year -= 100; // later this year means a century ago
                }
                if separator == Some('+') {
                    year -= 100;
                }
                format!("{year:04}{}", &digits[2..])
            }
            _ => return Err(PersonnummerError::Format),
        };
        let birth = birth_date_of(&full).ok_or(PersonnummerError::Date)?;
        if birth > today {
            return Err(PersonnummerError::Future);
        }
        if !luhn_ok(&full[2..]) {
            return Err(PersonnummerError::CheckDigit);
        }
        Ok(Self(full))
    }

    /// Wraps a value read back from our own database, which only ever holds
    /// canonical numbers written by `parse`.
    pub fn from_canonical(stored: String) -> Self {
        Self(stored)
    }

    pub fn canonical(&self) -> &str {
        &self.0
    }

    pub fn is_coordination_number(&self) -> bool {
        self.0[6..8].parse::<u32>().map(|d| d > 60).unwrap_or(false)
    }

    pub fn birth_date(&self) -> NaiveDate {
        birth_date_of(&self.0).expect("canonical personnummer has a valid date")
    }

    /// `YYYYMMDD-NNNC`, the form people read.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..8], &self.0[8..])
    }

    /// `YYYYMMDD-XXXX`: what every list and card shows unless revealed.
    pub fn masked(&self) -> String {
        format!("{}-XXXX", &self.0[..8])
    }
}

impl fmt::Debug for Personnummer {
    // Never print the full number, even in a debug dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Personnummer({})", self.masked())
    }
}

fn split_separator(s: &str) -> Result<(String, Option<char>), PersonnummerError> {
    match s.find(['-', '+']) {
        None => Ok((s.to_string(), None)),
        Some(pos) => {
            if s.len() - pos != 5 {
                return Err(PersonnummerError::Format);
            }
            let sep = s[pos..].chars().next();
            Ok((format!("{}{}", &s[..pos], &s[pos + 1..]), sep))
        }
    }
}

fn birth_date_of(full: &str) -> Option<NaiveDate> {
    let year: i32 = full[0..4].parse().ok()?;
    let month: u32 = full[4..6].parse().ok()?;
    let mut day: u32 = full[6..8].parse().ok()?;
    if day > 60 {
        day -= 60; // samordningsnummer
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

fn luhn_ok(ten_digits: &str) -> bool {
    check_digit(&ten_digits[..9]) == u32::from(ten_digits.as_bytes()[9] - b'0')
}

/// The check digit that makes `nine_digits` (YYMMDDNNN) a valid number; used by
/// the demo data generator.
pub fn check_digit(nine_digits: &str) -> u32 {
    let sum: u32 = nine_digits
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            let v = if i % 2 == 0 { d * 2 } else { d };
            if v > 9 {
                v - 9
            } else {
                v
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn parse(s: &str) -> Result<Personnummer, PersonnummerError> {
        Personnummer::parse(s, today())
    }

    #[test]
    fn every_written_form_gives_the_same_canonical_number() {
        for form in [
            "191212121212",
            "19121212-1212",
            "121212+1212",
            "1212121212+",
            " 19121212 - 1212 ",
        ] {
            match parse(form) {
                Ok(p) => assert_eq!(p.canonical(), "191212121212", "{form}"),
                Err(e) if form == "1212121212+" => assert_eq!(e, PersonnummerError::Format),
                Err(e) => panic!("{form}: {e}"),
            }
        }
    }

    #[test]
    fn ten_digits_without_plus_take_the_latest_century_not_in_the_future() {
        assert_eq!(parse("170101-2393").unwrap().canonical(), "201701012393");
        assert_eq!(parse("811218-9876").unwrap().canonical(), "198112189876");
        assert_eq!(parse("811218+9876").unwrap().canonical(), "188112189876");
        let nine = "261223980";
        let p = format!("{nine}{}", check_digit(nine));
        assert_eq!(parse(&p).unwrap().canonical(), format!("19{p}"));
    }

    #[test]
    fn wrong_check_digit_is_refused() {
        assert_eq!(parse("19811218-9877"), Err(PersonnummerError::CheckDigit));
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert_eq!(parse("19810230-9876"), Err(PersonnummerError::Date));
        assert_eq!(parse("19811318-9876"), Err(PersonnummerError::Date));
    }

    #[test]
    fn leap_days_are_real_dates() {
        let nine = "000229010";
        let p = format!("20{nine}{}", check_digit(nine));
        assert_eq!(
            parse(&p).unwrap().birth_date(),
            NaiveDate::from_ymd_opt(2000, 2, 29).unwrap()
        );
    }

    #[test]
    fn coordination_numbers_add_sixty_to_the_day() {
        let nine = "701063238";
        let number = format!("19{nine}{}", check_digit(nine));
        let p = parse(&number).unwrap();
        assert!(p.is_coordination_number());
        assert_eq!(
            p.birth_date(),
            NaiveDate::from_ymd_opt(1970, 10, 3).unwrap()
        );
    }

    #[test]
    fn malformed_input_is_a_format_error() {
        for bad in [
            "",
            "abc",
            "12345",
            "19121212-12",
            "1912121212121",
            "19121212_1212",
            "121212-12-12",
        ] {
            assert_eq!(parse(bad), Err(PersonnummerError::Format), "{bad:?}");
        }
    }

    #[test]
    fn future_birth_dates_are_refused() {
        let nine = "271224980";
        let p = format!("20{nine}{}", check_digit(nine));
        assert_eq!(parse(&p), Err(PersonnummerError::Future));
    }

    #[test]
    fn masked_and_debug_forms_hide_the_last_four() {
        let p = parse("19121212-1212").unwrap();
        assert_eq!(p.masked(), "19121212-XXXX");
        assert_eq!(p.display(), "19121212-1212");
        assert!(!format!("{p:?}").contains("1212-1212"));
    }
}
