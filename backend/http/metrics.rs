//! Counting each answer and serving `/metrics` (the metrics themselves are
//! `crate::metrics`).

use crate::error::{AppError, ErrorCode};
use crate::metrics::Gauges;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest, HttpResponse};
use std::time::Instant;

/// Counts every answer by its route template and times it.
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "(unmatched)".into());
        metrics.observe(
            &method,
            route,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// `GET /metrics`, for `Authorization: Bearer <LARMKOLL_METRICS_TOKEN>`;
/// without the setting there is no such page (404).
pub async fn scrape(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(expected) = state.settings.metrics_token.as_deref() else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::RouteNotFound,
            "There are no metrics here: set LARMKOLL_METRICS_TOKEN to open /metrics.",
            "Här finns inga mätvärden: ange LARMKOLL_METRICS_TOKEN för att öppna /metrics.",
        ));
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // The token guards operational data.
    if !crate::auth::same_secret(given, expected) {
        return Err(AppError::unauthenticated());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render(&gauges(&state))))
}

fn gauges(state: &AppState) -> Gauges {
    let (connections, idle) = state.db.pool_state();
    let (slots, memory) = (state.photo_slots as i64, state.photo_memory_mib as i64);
    Gauges {
        pool_in_use: i64::from(connections - idle),
        pool_idle: i64::from(idle),
        pool_max: i64::from(state.settings.db_pool_size),
        photo_slots: slots,
        photo_slots_in_use: slots - state.media_slots.available_permits() as i64,
        photo_memory_mib: memory,
        photo_memory_mib_in_use: memory - state.media_memory.available_permits() as i64,
    }
}
