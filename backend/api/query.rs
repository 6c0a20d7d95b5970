//! The query-string extractor of every endpoint. Like `web::Query`, but a
//! parameter that cannot be read names itself, in English and in Swedish
//! (`errors[0].field`), instead of repeating serde's English; and the status
//! is the one the operation documents: 422 where the spec lists 422 for it
//! (a reveal without `reason`, a report's `months`), else 400 (`E400`: a bad
//! parameter).

use super::json::{describe, upper_first};
use crate::error::{field_sv, AppError, ErrorCode, FieldError};
use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::future::{ready, Ready};
use std::ops::Deref;
use std::sync::LazyLock;

/// The query string parsed into `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        let parsed = serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs));
        ready(parsed.map(Query).map_err(|e| {
            let status = if documents_422(req.method(), req.match_pattern().as_deref()) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            problem(status, &e.path().to_string(), &e.inner().to_string()).into()
        }))
    }
}

/// What serde found wrong with a parameter, told as a person can act on it.
fn problem(status: StatusCode, path: &str, message: &str) -> AppError {
    let (field, code, en, sv) = describe(path, message);
    let label = field_sv(&field);
    let named = if label == field || label.starts_with("fältet ") {
        format!("parametern {field}")
    } else {
        format!("parametern {field} ({label})")
    };
    AppError::new(
        status,
        ErrorCode::InvalidQueryParameter,
        format!("The query parameter `{field}` is not valid: {message}. Correct it and send again; nothing was changed."),
        format!(
            "Ett värde efter ? i adressen är fel: {}. Rätta det och försök igen; inget har ändrats.",
            upper_first(&format!("{named} {sv}"))
        ),
    )
    .with_field_errors(vec![FieldError::new(field, code, en, sv)])
}

/// Whether the spec documents a 422 for the operation `pattern` (the route's
/// template, `/api/v1/customers/{id}/personnummer`) under `method`.
fn documents_422(method: &Method, pattern: Option<&str>) -> bool {
    static WITH_422: LazyLock<HashSet<(String, String)>> = LazyLock::new(|| {
        let mut set = HashSet::new();
        for (path, item) in &super::document().paths.paths {
            for (method, op) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ] {
                if op
                    .as_ref()
                    .is_some_and(|op| op.responses.responses.contains_key("422"))
                {
                    set.insert((method.to_string(), path.clone()));
                }
            }
        }
        set
    });
    pattern.is_some_and(|p| WITH_422.contains(&(method.as_str().to_string(), p.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_parameter_is_named_in_swedish() {
        let p = problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            "missing field `reason`",
        )
        .to_problem();
        assert_eq!(
            (p.status, p.code.as_str()),
            (422, "invalid_query_parameter")
        );
        assert_eq!(p.errors[0].field, "reason");
        assert_eq!(p.errors[0].code, "required");
        assert_eq!(
            p.detail_sv,
            "Ett värde efter ? i adressen är fel: Parametern reason (kommentar) saknas; fyll i det. Rätta det och försök igen; inget har ändrats."
        );
    }

    #[test]
    fn an_unknown_value_lists_the_allowed_ones() {
        let p = problem(
            StatusCode::BAD_REQUEST,
            "state",
            "unknown variant `bokad`, expected one of `received`, `booked`",
        )
        .to_problem();
        assert_eq!(p.errors[0].field, "state");
        assert_eq!(p.errors[0].code, "unknown_value");
        assert!(
            p.detail_sv
                .contains("Parametern state (status) har ett okänt värde \"bokad\"; tillåtna värden är received eller booked"),
            "{}",
            p.detail_sv
        );
        for english in ["unknown variant", "expected", "missing", "deserialize"] {
            assert!(!p.detail_sv.contains(english), "{}", p.detail_sv);
        }
    }

    #[test]
    fn the_spec_decides_400_or_422() {
        assert!(documents_422(
            &Method::GET,
            Some("/api/v1/customers/{id}/personnummer")
        ));
        assert!(!documents_422(&Method::GET, Some("/api/v1/customers")));
        assert!(!documents_422(&Method::GET, None));
    }
}
