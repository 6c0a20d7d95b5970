//! Cross-cutting HTTP: request logging without personal data, request ids,
//! security headers, `Idempotency-Key` replay, and cutting stalled bodies.

pub mod body_timeout;
pub mod metrics;

use crate::db::{self, idempotency};
use crate::error::AppError;
use crate::error::ErrorCode;
use crate::state::AppState;
use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, Error, HttpMessage, HttpResponse};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

/// Logs the route pattern (`/api/v1/customers/{id}`), never the concrete path
/// or query string, which may carry a personnummer or a name.
pub struct QuietRootSpan;

impl RootSpanBuilder for QuietRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "(unmatched)".into());
        // `user_id` is filled in when the request's token names one (`Actor`).
        tracing::info_span!("http", method = %request.method(), route = %route, request_id = %request_id, user_id = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(resp) => resp.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.in_scope(|| tracing::info!(status, "request"));
    }
}

/// Echoes the request id so a user's bug report can be matched to the log.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = next.call(req).await?;
    if let Some(id) = id.and_then(|i| header::HeaderValue::from_str(&i).ok()) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}

pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Permissions-Policy", "geolocation=(), microphone=()"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ))
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

fn idempotency_problem(status: StatusCode, code: ErrorCode, en: &str, sv: &str) -> Error {
    AppError::new(status, code, en, sv).into()
}

/// `Idempotency-Key` on POST: the first response (2xx) is stored and replayed
/// for the same key and body; the same key with another body is refused.
/// Keys are scoped per user. Auth endpoints are exempt: tokens are never stored.
/// The one operation whose body is a spreadsheet, not JSON: the idempotency
/// middleware reads it up to the sheet's own limit (`api::import` routes it).
pub const SPREADSHEET_UPLOAD_PATH: &str = "/api/v1/import/key-register";

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = req.headers().get(IDEMPOTENCY_HEADER).cloned();
    let Some(key) = key.filter(|_| req.method() == Method::POST) else {
        return next.call(req).await;
    };
    if req.path().starts_with("/api/v1/auth/") {
        return next.call(req).await;
    }
    let key = match key.to_str() {
        Ok(k) if (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_string()
        }
        _ => {
            return Err(idempotency_problem(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidIdempotencyKey,
                "`Idempotency-Key` must be 1–200 visible ASCII characters, such as a UUID.",
                "`Idempotency-Key` ska vara 1–200 synliga ASCII-tecken, till exempel ett UUID.",
            ))
        }
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("app state");
    let Some(claims) = crate::auth::bearer_token(req.request()).and_then(|t| state.keys.verify(&t))
    else {
        return next.call(req).await; // the handler answers 401
    };
    let scope = claims.sub;

    // The import takes a spreadsheet, not JSON: its own limit applies.
    let limit = if req.path() == SPREADSHEET_UPLOAD_PATH {
        crate::sheet::MAX_BODY_BYTES
    } else {
        state.settings.json_limit_bytes
    };
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::payload_too_large(Some(limit)).into());
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b"\n");
    hasher.update(req.uri().to_string());
    hasher.update(b"\n");
    hasher.update(&body);
    let request_hash = hex::encode(hasher.finalize());

    let claim = idempotency::IdempotencyRow {
        scope: scope.clone(),
        idempotency_key: key.clone(),
        method: req.method().to_string(),
        path: req.path().to_string(),
        request_hash: request_hash.clone(),
        status: None,
        content_type: None,
        response_body: None,
        created_at: db::now(),
        committed_at: None,
        etag: None,
    };
    let (s, k) = (scope.clone(), key.clone());
    // A claim older than this whose action never committed belonged to a request
    // that died mid-way (a crash); it is released so the client's retry can proceed.
    // One whose action committed is never released: the retry gets `already_applied`.
    let abandoned_after = state.settings.idempotency_abandon_seconds;
    let previous = state
        .db
        .run(move |conn| {
            for _ in 0..2 {
                if idempotency::claim(conn, &claim)? {
                    return Ok(None);
                }
                match idempotency::find(conn, &s, &k)? {
                    // Only a claim whose action never committed may be abandoned;
                    // a committed one answers `already_applied`, however old.
                    Some(row)
                        if row.status.is_none()
                            && row.committed_at.is_none()
                            && (db::now() - row.created_at).num_seconds() > abandoned_after =>
                    {
                        idempotency::release(conn, &s, &k)?;
                    }
                    Some(row) => return Ok(Some(row)),
                    None => {}
                }
            }
            // Another request took the key each time: it is in progress, never unclaimed.
            Ok(Some(claim))
        })
        .await?;

    if let Some(row) = previous {
        if row.request_hash != request_hash {
            return Err(idempotency_problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was already used for a different request. Use a new key for a new action.",
                "Denna Idempotency-Key har redan använts för en annan begäran. Använd en ny nyckel för en ny åtgärd.",
            ));
        }
        if row.status.is_none() && row.committed_at.is_some() {
            return Err(idempotency_problem(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyApplied,
                "This action was carried out, but its answer was lost (the server restarted). Do not send it again; reload the record to see the result.",
                "Åtgärden är utförd, men svaret gick förlorat (servern startades om). Skicka den inte igen; läs in posten på nytt för att se resultatet.",
            ));
        }
        let Some(status) = row.status else {
            return Err(idempotency_problem(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyInProgress,
                "The first request with this Idempotency-Key is still being handled. Retry in a moment.",
                "Den första begäran med denna Idempotency-Key behandlas fortfarande. Försök igen om en stund.",
            ));
        };
        let mut resp =
            HttpResponse::build(StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK));
        if let Some(ct) = row.content_type {
            resp.insert_header((header::CONTENT_TYPE, ct));
        }
        if let Some(etag) = row.etag {
            resp.insert_header((header::ETAG, etag));
        }
        resp.insert_header(("Idempotent-Replayed", "true"));
        let resp = resp.body(row.response_body.unwrap_or_default());
        return Ok(req.into_response(resp));
    }

    req.set_payload(Payload::from(body));
    // The handler's transactions mark the claim as acted upon, in the same commit.
    let claim = idempotency::Claim {
        scope: scope.clone(),
        key: key.clone(),
    };
    let res = idempotency::CURRENT.scope(claim, next.call(req)).await;
    let store = state.clone();
    match res {
        Ok(res) if res.status().is_success() => {
            let status = res.status();
            let content_type = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let etag = res
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let (http_req, http_res) = res.into_parts();
            let (http_res, res_body) = http_res.into_parts();
            let bytes: Bytes = body::to_bytes(res_body)
                .await
                .map_err(|e| AppError::internal(anyhow::anyhow!("reading response body: {e}")))?;
            let stored = bytes.to_vec();
            store
                .db
                .run(move |conn| {
                    Ok(idempotency::complete(
                        conn,
                        &scope,
                        &key,
                        i32::from(status.as_u16()),
                        content_type,
                        etag,
                        stored,
                    )?)
                })
                .await?;
            Ok(ServiceResponse::new(
                http_req,
                http_res.set_body(BoxBody::new(bytes)),
            ))
        }
        other => {
            // Nothing to replay: free the key so a corrected retry can use it.
            store
                .db
                .run(move |conn| Ok(idempotency::release(conn, &scope, &key)?))
                .await?;
            other
        }
    }
}

/// Turns any error response that is not already problem+json (a 405 from the
/// router, an error raised inside actix itself) into one, so clients can rely
/// on every error having the same shape.
pub async fn problem_fallback(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let is_problem = res.headers().get(header::CONTENT_TYPE).is_some_and(|ct| {
        // SCIM answers its own error schema (RFC 7644 §3.12).
        let ct = ct.as_bytes();
        ct.starts_with(b"application/problem+json") || ct.starts_with(b"application/scim+json")
    });
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return Ok(res);
    }
    let err = match status {
        StatusCode::NOT_FOUND => AppError::new(
            status,
            ErrorCode::RouteNotFound,
            "There is no such endpoint. See /api/v1/openapi.json for the ones that exist.",
            "Den adressen finns inte. Se /api/v1/openapi.json för de som finns.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => AppError::new(
            status,
            ErrorCode::MethodNotAllowed,
            "This endpoint does not take that HTTP method; the `Allow` header lists the ones it does.",
            "Denna adress tar inte emot den HTTP-metoden; rubriken `Allow` visar vilka som gäller.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::payload_too_large(None),
        s if s.is_server_error() => AppError::internal(anyhow::anyhow!("error response without problem body: {s}")),
        s => AppError::new(
            s,
            ErrorCode::BadRequest,
            "The request could not be handled as sent. Check the method, headers and body.",
            "Begäran kunde inte hanteras som den skickades. Kontrollera metod, rubriker och innehåll.",
        ),
    };
    let (req, old) = res.into_parts();
    let mut new = actix_web::ResponseError::error_response(&err);
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = old.headers().get(&name) {
            new.headers_mut().insert(name, v.clone());
        }
    }
    Ok(ServiceResponse::new(req, new))
}
