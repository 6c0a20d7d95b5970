//! Optimistic concurrency: the ETag is the record's version.

use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::{header, StatusCode};
use actix_web::HttpRequest;

pub fn etag(version: i32) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

/// The version the client based its write on, from `If-Match`.
pub fn expected_version(req: &HttpRequest) -> Result<i32, AppError> {
    let value = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or_else(AppError::precondition_required)?
        .to_str()
        .unwrap_or_default()
        .trim();
    // An entity tag as this API sends it: `"3"` (or weak, `W/"3"`), nothing looser.
    let digits = value
        .strip_prefix("W/")
        .unwrap_or(value)
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|d| (1..=9).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
    digits.and_then(|d| d.parse().ok()).ok_or_else(|| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidIfMatch,
            "`If-Match` must be the ETag this API gave you, such as \"3\".",
            "`If-Match` måste vara den ETag API:t gav dig, till exempel \"3\".",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn if_match_forms() {
        let req = TestRequest::default()
            .insert_header(("If-Match", "\"7\""))
            .to_http_request();
        assert_eq!(expected_version(&req).unwrap(), 7);
        let req = TestRequest::default()
            .insert_header(("If-Match", "W/\"7\""))
            .to_http_request();
        assert_eq!(expected_version(&req).unwrap(), 7);
        let req = TestRequest::default().to_http_request();
        assert_eq!(expected_version(&req).unwrap_err().status(), 428);
        // What the spec's pattern forbids is refused, not read as a version.
        for bad in [
            "*",
            "7",
            "\"-7\"",
            "\"+7\"",
            "\"7",
            "\"\"",
            "\"1234567890\"",
        ] {
            let req = TestRequest::default()
                .insert_header(("If-Match", bad))
                .to_http_request();
            assert_eq!(
                expected_version(&req).unwrap_err().code(),
                ErrorCode::InvalidIfMatch,
                "{bad}"
            );
        }
    }
}
