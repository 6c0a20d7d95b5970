//! Collects field problems so one response names all of them.

use crate::domain::custody::KeyFieldError;
use crate::error::ErrorCode;
use crate::error::{AppError, FieldError};
use actix_web::http::StatusCode;

#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// A field's problem, in English and in Swedish.
    pub fn add(
        &mut self,
        field: &str,
        code: &str,
        detail: impl Into<String>,
        detail_sv: impl Into<String>,
    ) {
        self.0.push(FieldError::new(field, code, detail, detail_sv));
    }

    /// A required text: trimmed, non-empty, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, "required", "must not be empty", "får inte vara tomt");
        } else if v.chars().count() > max {
            self.add(
                field,
                "too_long",
                format!("at most {max} characters"),
                format!("högst {max} tecken"),
            );
        } else {
            self.no_nul(field, v);
        }
        v.to_string()
    }

    /// A day that has happened: not later than today.
    pub fn not_after_today(&mut self, field: &str, day: chrono::NaiveDate) {
        if day > crate::domain::calendar::today() {
            self.add(
                field,
                "in_future",
                "cannot be later than today",
                "kan inte vara senare än i dag",
            );
        }
    }

    /// PostgreSQL cannot store U+0000 in text, so no backend gets one.
    fn no_nul(&mut self, field: &str, value: &str) {
        if value.contains('\0') {
            self.add(
                field,
                "invalid_character",
                "must not contain U+0000 (NUL)",
                "innehåller ett otillåtet osynligt tecken; ta bort det",
            );
        }
    }

    /// An optional text: trimmed; empty becomes None.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let v = value.map(str::trim).filter(|v| !v.is_empty())?;
        if v.chars().count() > max {
            self.add(
                field,
                "too_long",
                format!("at most {max} characters"),
                format!("högst {max} tecken"),
            );
        } else {
            self.no_nul(field, v);
        }
        Some(v.to_string())
    }

    /// A parsed key field, or its problem recorded under `field` (default: its own name).
    pub fn key<T>(&mut self, parsed: Result<T, KeyFieldError>, field: Option<&str>) -> Option<T> {
        parsed
            .map_err(|e| {
                self.add(
                    field.unwrap_or(e.field.name()),
                    e.code(),
                    e.detail(),
                    e.detail_sv(),
                )
            })
            .ok()
    }

    /// A parsed key position, or each of its fields' problems recorded.
    pub fn key_position<T>(&mut self, parsed: Result<T, Vec<KeyFieldError>>) -> Option<T> {
        parsed
            .map_err(|errs| {
                for e in errs {
                    self.add(e.field.name(), e.code(), e.detail(), e.detail_sv());
                }
            })
            .ok()
    }

    /// The values parsed from the fields, when none of them had a problem.
    pub fn finish_with<T>(self, parsed: Option<T>) -> Result<T, AppError> {
        self.finish()?;
        // Every parser that answers None records a problem, so this is Some.
        parsed.ok_or_else(|| AppError::validation(Vec::new()))
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(self.0))
        }
    }
}

/// A free-text query filter: U+0000 matches nothing and PostgreSQL refuses it.
pub fn query_text(name: &str, value: Option<String>) -> Result<Option<String>, AppError> {
    match value {
        Some(v) if v.contains('\0') => Err(AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQueryParameter,
            format!("`{name}` must not contain U+0000 (NUL)."),
            format!("`{name}` får inte innehålla U+0000 (NUL)."),
        )),
        v => Ok(v),
    }
}

/// Deserialises a field that may be absent (leave unchanged), `null` (clear)
/// or a value (set): `Option<Option<T>>`.
pub mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

pub fn unknown_reference(field: &str, en: &str, sv: &str) -> AppError {
    let mut p = Problems::default();
    p.add(
        field,
        "unknown",
        format!("no such {en}"),
        format!("{sv} finns inte"),
    );
    p.finish().unwrap_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_problems_are_reported_together() {
        let mut p = Problems::default();
        assert_eq!(p.text("name", "  Åsa ", 10), "Åsa");
        p.text("street", "   ", 10);
        p.text("city", "Stockholmsstaden", 5);
        assert_eq!(p.optional_text("phone", Some("  "), 5), None);
        p.text("note", "a\0b", 10);
        p.optional_text("door", Some("\0"), 10);
        let err = p.finish().unwrap_err();
        assert_eq!(err.status(), 422);
        let codes: Vec<_> = err
            .to_problem()
            .errors
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(
            codes,
            [
                "required",
                "too_long",
                "invalid_character",
                "invalid_character"
            ]
        );
    }
}
