//! The JSON body extractor of every endpoint. Like `web::Json`, with two
//! differences a client can see: a body that is valid JSON but of the wrong
//! shape (an unknown enum value, a number where a text belongs, an array where
//! an enum belongs) is always a 422 `invalid_body`, and its answer names the
//! field in words rather than repeating serde's English.
//!
//! serde_json reports some shape errors as syntax errors (an enum given a
//! number or an array is "expected value"), so the body is first read as raw
//! JSON: only what fails there is malformed (400), and everything that fails
//! after is a shape problem (422).

use crate::error::ErrorCode;
use crate::error::{field_sv, AppError, FieldError};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::ops::{Deref, DerefMut};

/// The default when no settings are registered (never in the app itself).
const DEFAULT_LIMIT: usize = 256 * 1024;

/// A request body parsed from JSON into `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(DEFAULT_LIMIT, |s| s.settings.json_limit_bytes);
        // Content type, size limit and decompression as `web::Json` does them.
        let raw = web::JsonBody::<Box<RawValue>>::new(req, payload, None, true).limit(limit);
        let req = req.clone();
        Box::pin(async move {
            let raw = raw.await.map_err(|e| super::json_error(e, &req))?;
            let mut de = serde_json::Deserializer::from_str(raw.get());
            match serde_path_to_error::deserialize(&mut de) {
                Ok(value) => Ok(Json(value)),
                Err(e) => Err(shape_error(&e).into()),
            }
        })
    }
}

/// What serde found wrong with valid JSON, told as a person can act on it.
fn shape_error(err: &serde_path_to_error::Error<serde_json::Error>) -> AppError {
    let path = err.path().to_string();
    let message = without_position(&err.inner().to_string());
    let (field, code, en, sv) = describe(&path, &message);
    let label = field_sv(&field);
    AppError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidBody,
        format!(
            "The JSON does not match the expected shape at `{field}`: {message}. Correct the field and send again; nothing was changed."
        ),
        format!(
            "Uppgifterna kunde inte tas emot: {}. Rätta det och skicka igen; inget har ändrats.",
            upper_first(&format!("{label} {sv}"))
        ),
    )
    .with_field_errors(vec![FieldError::new(field, code, en, sv)])
}

/// `(field, code, detail, detail_sv)` for one serde message at `path`.
pub(super) fn describe(path: &str, message: &str) -> (String, &'static str, String, String) {
    let at = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let here = if path.is_empty() { "." } else { path }.to_string();
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (value, allowed) = quoted_and_allowed(rest);
        return (
            here,
            "unknown_value",
            format!("unknown value \"{value}\"; allowed: {}", allowed.join(", ")),
            format!(
                "har ett okänt värde \"{value}\"; tillåtna värden är {}",
                or_list(&allowed)
            ),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, allowed) = quoted_and_allowed(rest);
        // The path already ends in the unknown field's name.
        let field = if here.ends_with(&name) {
            here
        } else {
            at(&name)
        };
        let sv = if allowed.is_empty() {
            "finns inte här; ta bort det".to_string()
        } else {
            format!(
                "finns inte här; ta bort det (fälten som finns är {})",
                allowed.join(", ")
            )
        };
        return (
            field,
            "unknown_field",
            "no such field; remove it".to_string(),
            sv,
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let (name, _) = quoted_and_allowed(rest);
        return (
            at(&name),
            "required",
            "missing; fill it in".to_string(),
            "saknas; fyll i det".to_string(),
        );
    }
    if let Some(rest) = message.strip_prefix("duplicate field ") {
        let (name, _) = quoted_and_allowed(rest);
        return (
            at(&name),
            "duplicate_field",
            "given twice; give it once".to_string(),
            "finns två gånger; ange det en gång".to_string(),
        );
    }
    let expected = message
        .split_once(", expected ")
        .map(|(_, e)| e.trim().to_string());
    if message.starts_with("invalid type") || message.starts_with("expected ") {
        let wanted_sv = expected.as_deref().map(kind_sv);
        return (
            here,
            "wrong_type",
            match &expected {
                Some(e) => format!("wrong type of value; expected {e}"),
                None => "wrong type of value".to_string(),
            },
            match wanted_sv.flatten() {
                Some(w) => format!("har fel sorts värde; det ska vara {w}"),
                None => "har fel sorts värde".to_string(),
            },
        );
    }
    if message.starts_with("invalid length") {
        return (
            here,
            "wrong_length",
            message.to_string(),
            "har fel antal värden".to_string(),
        );
    }
    // A value our own parsers refuse: an id, a date, a time, a number out of range.
    let sv = if message.contains("UUID") {
        "är inget giltigt id (ett UUID som 3f2b8c1e-5a4d-4c1b-9e2f-7a6b5c4d3e2f)".to_string()
    } else if [
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "input is not enough for unique date and time",
        "no possible date and time matching input",
        "bad or unsupported format string",
    ]
    .iter()
    .any(|m| message.starts_with(m))
    {
        "är inget giltigt datum eller klockslag; skriv ett datum som 2025-03-31".to_string()
    } else if [
        "invalid digit",
        "cannot parse integer",
        "number too large",
        "number too small",
    ]
    .iter()
    .any(|m| message.starts_with(m))
    {
        "har ett ogiltigt värde; det ska vara ett heltal".to_string()
    } else if message.starts_with("invalid value") {
        match expected.as_deref().and_then(kind_sv) {
            Some(w) => format!("har ett ogiltigt värde; det ska vara {w}"),
            None => "har ett ogiltigt värde".to_string(),
        }
    } else {
        "har ett värde som inte går att läsa".to_string()
    };
    (here, "invalid_value", message.to_string(), sv)
}

/// serde's "what was expected", in Swedish, for the common kinds.
fn kind_sv(expected: &str) -> Option<String> {
    let e = expected.trim_start_matches("a ").trim_start_matches("an ");
    let sv = match e {
        "string" | "borrowed string" | "string or map" => "en text",
        "boolean" => "sant eller falskt (true eller false)",
        "sequence" | "sequence of strings" => "en lista",
        "map" => "ett objekt",
        "variant identifier" => "ett av de tillåtna värdena, som text",
        "UUID" | "UUID string" => "ett id (UUID) som text",
        "i8" | "i16" | "i32" | "i64" | "isize" => "ett heltal",
        "u8" | "u16" | "u32" | "u64" | "usize" => "ett heltal, 0 eller större",
        "f32" | "f64" => "ett tal",
        s if s.starts_with("struct ") => "ett objekt",
        s if s.starts_with("integer") => "ett heltal",
        s if s.starts_with("formatted date") || s.contains("date") => "ett datum som 2025-03-31",
        _ => return None,
    };
    Some(sv.to_string())
}

/// From "`x`, expected one of `a`, `b`" the value `x` and the list `a`, `b`.
fn quoted_and_allowed(rest: &str) -> (String, Vec<String>) {
    let mut parts = rest.split('`');
    parts.next(); // before the first backtick
    let value = parts.next().unwrap_or_default().to_string();
    let allowed = parts
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect();
    (value, allowed)
}

/// "a, b eller c".
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} eller {last}", init.join(", ")),
    }
}

pub(super) fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// serde_json's " at line 1 column 12" is about the raw text, not the field.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Service {
        Alarm,
        KeyBox,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Address {
        city: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        service: Service,
        address: Address,
        #[serde(default)]
        count: u32,
    }

    fn problem(json: &str) -> crate::error::Problem {
        let mut de = serde_json::Deserializer::from_str(json);
        let err = serde_path_to_error::deserialize::<_, Body>(&mut de).unwrap_err();
        shape_error(&err).to_problem()
    }

    fn assert_swedish(p: &crate::error::Problem) {
        for english in [
            "expected", "unknown", "invalid", "missing", "variant", "line",
        ] {
            assert!(
                !p.detail_sv.contains(english) && !p.errors[0].detail_sv.contains(english),
                "{english} in {} / {}",
                p.detail_sv,
                p.errors[0].detail_sv
            );
        }
    }

    #[test]
    fn unknown_variant_names_the_field_and_the_allowed_values() {
        let p = problem(r#"{"service": "nonsense", "address": {"city": "Nacka"}}"#);
        assert_eq!((p.status, p.code.as_str()), (422, "invalid_body"));
        assert_eq!(p.errors[0].field, "service");
        assert_eq!(p.errors[0].code, "unknown_value");
        assert!(
            p.detail.contains("unknown variant `nonsense`"),
            "{}",
            p.detail
        );
        assert_eq!(
            p.detail_sv,
            "Uppgifterna kunde inte tas emot: Tjänst har ett okänt värde \"nonsense\"; tillåtna värden är alarm eller key_box. Rätta det och skicka igen; inget har ändrats."
        );
        assert_swedish(&p);
    }

    #[test]
    fn every_shape_error_is_told_in_swedish() {
        for (json, field, code) in [
            (
                r#"{"service": 5, "address": {"city": "N"}}"#,
                "service",
                "wrong_type",
            ),
            (
                r#"{"service": ["alarm"], "address": {"city": "N"}}"#,
                "service",
                "wrong_type",
            ),
            (
                r#"{"service": "alarm", "address": {"city": 5}}"#,
                "address.city",
                "wrong_type",
            ),
            (
                r#"{"service": "alarm", "address": {}}"#,
                "address.city",
                "required",
            ),
            (
                r#"{"service": "alarm", "address": {"city": "N", "x": 1}}"#,
                "address.x",
                "unknown_field",
            ),
            (
                r#"{"service": "alarm", "address": {"city": "N"}, "count": -1}"#,
                "count",
                "invalid_value",
            ),
            (
                r#"{"service": "alarm", "service": "alarm", "address": {"city": "N"}}"#,
                "service",
                "duplicate_field",
            ),
        ] {
            let p = problem(json);
            assert_eq!(
                (p.errors[0].field.as_str(), p.errors[0].code.as_str()),
                (field, code),
                "{json}: {}",
                p.detail
            );
            assert_swedish(&p);
        }
    }
}
