//! Collects field problems so one response names all of them.

use crate::error::{AppError, FieldError};

#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: &str, code: &str, detail: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            code: code.into(),
            detail: detail.into(),
        });
    }

    /// A required text: trimmed, non-empty, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, "required", "must not be empty");
        } else if v.chars().count() > max {
            self.add(field, "too_long", format!("at most {max} characters"));
        }
        v.to_string()
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
            self.add(field, "too_long", format!("at most {max} characters"));
        }
        Some(v.to_string())
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(self.0))
        }
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
        let err = p.finish().unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(err.to_problem().errors.len(), 2);
    }
}
