//! Larmkoll: safety alarms, digital locks and customers' keys, from the
//! assessor's decision to the day the equipment comes back.

pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod media;
pub mod metrics;
pub mod sheet;
pub mod state;
pub mod web;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web as aw, App};
use state::AppState;
use utoipa_actix_web::AppExt;

/// The whole application, used by `serve` and by the tests alike.
pub fn build_app(
    state: aw::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let json_limit = state.settings.json_limit_bytes;
    App::new()
        .app_data(state)
        .app_data(
            aw::JsonConfig::default()
                .limit(json_limit)
                .content_type_required(true)
                .error_handler(api::json_error),
        )
        .app_data(aw::PathConfig::default().error_handler(api::path_error))
        .app_data(aw::QueryConfig::default().error_handler(api::query_error))
        .into_utoipa_app()
        .configure(api::mount)
        .into_app()
        .route("/metrics", aw::get().to(http::metrics::scrape))
        .configure(api::scim::routes)
        .configure(web::configure)
        .default_service(aw::to(unrouted))
        .wrap(from_fn(http::problem_fallback))
        .wrap(from_fn(http::metrics::count))
        // gzip, brotli or zstd as the client accepts; photos (image/*) stay as they are.
        .wrap(actix_web::middleware::Compress::default())
        .wrap(from_fn(http::body_timeout::cut_stalled_bodies))
        .wrap(http::security_headers())
        .wrap(from_fn(http::request_id_header))
        .wrap(tracing_actix_web::TracingLogger::<http::QuietRootSpan>::new())
}

/// Outside the API, a path the document lists under another method (`TRACE
/// /healthz`) gets 405, not the field app's shell.
async fn unrouted(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    match api::allowed_methods(req.path()) {
        Some(allow) => actix_web::HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, allow))
            .finish(),
        None => web::serve_pwa(req).await,
    }
}
