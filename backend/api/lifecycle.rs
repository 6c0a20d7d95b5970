//! The order lifecycle for clients: the field app and the desk take their
//! actions, final states and labels from here instead of a copy of their own.

use crate::auth::permissions::{allows, Action};
use crate::auth::Actor;
use crate::domain::lifecycle::{describe, Lifecycle};
use crate::error::AppError;
use actix_web::get;
use actix_web::HttpResponse;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_lifecycle);
}

/// The state machines with the authorization table's roles.
pub fn lifecycle() -> Lifecycle {
    describe(|role, event| allows(role, Action::Order(event)))
}

/// The document as served and committed (`openapi/lifecycle.json`): built
/// once, since it changes only with the server's version.
pub fn lifecycle_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| {
        let mut json =
            serde_json::to_string_pretty(&lifecycle()).expect("the lifecycle serialises");
        json.push('\n');
        json
    })
}

/// The order lifecycle: for each kind of order its states (final or open),
/// its events, every allowed transition and the roles that may fire each
/// event, with the Swedish labels the apps show. The same for every caller;
/// it changes only with a new server version.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    responses((status = 200, description = "The state machines of install, uninstall and extension orders", body = Lifecycle)))]
#[get("/lifecycle")]
pub async fn get_lifecycle(user: Actor) -> Result<HttpResponse, AppError> {
    user.require(
        Action::ReadLifecycle,
        "read the order lifecycle",
        "läsa beställningarnas livscykel",
    )?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(lifecycle_json()))
}
