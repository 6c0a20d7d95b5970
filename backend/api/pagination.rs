//! Opaque keyset cursors and page sizes.

use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::StatusCode;
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of results; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Absent on the last page.
    pub next_cursor: Option<String>,
}

pub fn limit(requested: Option<i64>) -> Result<i64, AppError> {
    limit_within(requested, DEFAULT_LIMIT, MAX_LIMIT)
}

/// A page size for lists with their own default and ceiling.
pub fn limit_within(requested: Option<i64>, default: i64, max: i64) -> Result<i64, AppError> {
    match requested {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidLimit,
            format!("`limit` must be between 1 and {max}."),
            format!("`limit` måste vara mellan 1 och {max}."),
        )),
    }
}

/// Encodes the sort key of the last row as an opaque string.
pub fn encode(parts: &[&str]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(parts.join("\u{1f}"))
}

pub fn decode(cursor: &str, expected_parts: usize) -> Result<Vec<String>, AppError> {
    let bad = || {
        AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidCursor,
            "The cursor is not one this API gave out. Start again from the first page.",
            "Markören kommer inte från detta API. Börja om från första sidan.",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    if text.contains('\0') {
        return Err(bad());
    }
    let parts: Vec<String> = text.split('\u{1f}').map(str::to_string).collect();
    if parts.len() != expected_parts {
        return Err(bad());
    }
    Ok(parts)
}

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

/// A cursor for lists sorted by (timestamp, id).
pub fn encode_time(at: &chrono::NaiveDateTime, id: &str) -> String {
    encode(&[&at.format(TIME_FORMAT).to_string(), id])
}

pub fn decode_time(cursor: &str) -> Result<(chrono::NaiveDateTime, String), AppError> {
    let mut parts = decode(cursor, 2)?;
    let id = parts.pop().unwrap_or_default();
    let at = chrono::NaiveDateTime::parse_from_str(&parts[0], TIME_FORMAT)
        .map_err(|_| decode("", 2).unwrap_err())?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode(&["åsa lind|lind åsa", "id-1"]);
        assert_eq!(decode(&c, 2).unwrap(), vec!["åsa lind|lind åsa", "id-1"]);
        assert_eq!(
            decode("!!", 2).unwrap_err().code(),
            ErrorCode::InvalidCursor
        );
        assert_eq!(decode(&c, 3).unwrap_err().code(), ErrorCode::InvalidCursor);
        assert_eq!(
            decode(&encode(&["a\0", "id-1"]), 2).unwrap_err().code(),
            ErrorCode::InvalidCursor
        );
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_micro_opt(8, 1, 2, 345_678)
            .unwrap();
        assert_eq!(
            decode_time(&encode_time(&at, "x")).unwrap(),
            (at, "x".to_string())
        );
        assert_eq!(
            decode_time(&encode(&["yesterday", "x"]))
                .unwrap_err()
                .code(),
            ErrorCode::InvalidCursor
        );
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(MAX_LIMIT + 1)).is_err());
    }
}
