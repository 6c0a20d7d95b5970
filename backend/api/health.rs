//! Liveness and readiness, outside /api/v1 for load balancers.

use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `sqlite` or `postgresql`.
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "health", security(()),
    responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        database: state.db.backend(),
    })
}

/// The database answers; a load balancer sends traffic only when this is 200.
#[utoipa::path(tag = "health", security(()),
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database does not answer", body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, crate::error::AppError> {
    state.db.ping().await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok",
        database: state.db.backend(),
    }))
}
