//! Larmkoll: safety alarms, digital locks and customers' keys, from the
//! assessor's decision to the day the equipment comes back.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod followup;
pub mod http;
pub mod media;
pub mod sheet;
pub mod web;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web as aw, App};
use std::sync::Arc;
use std::time::Duration;

/// Everything a request handler may need.
pub struct AppState {
    pub db: db::Db,
    pub keys: auth::jwt::TokenKeys,
    pub settings: config::Settings,
    pub limiter: Arc<auth::rate_limit::LoginLimiter>,
    /// Demo mode: the demo users' password `demo` is accepted only then.
    pub demo: bool,
    /// Where document photos are kept.
    pub store: Arc<dyn media::storage::BlobStore>,
    /// How many photos are processed at once, so uploads cannot starve the API.
    pub media_slots: Arc<tokio::sync::Semaphore>,
    /// The photos' memory budget in MiB: each photo is admitted by what its
    /// header says it needs, so photos at once never need more together.
    pub media_memory: Arc<tokio::sync::Semaphore>,
    /// Uploads between writing their files and committing their record.
    pub uploads_in_flight: Arc<media::InFlight>,
}

impl AppState {
    pub fn new(
        db: db::Db,
        keys: auth::jwt::TokenKeys,
        settings: config::Settings,
        demo: bool,
    ) -> std::io::Result<Self> {
        let store = media::storage::open(&settings)?;
        let slots = match settings.photo_workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get().div_ceil(2))
                .unwrap_or(1),
            n => n,
        };
        Ok(Self {
            db,
            keys,
            settings,
            // 5 failures per account, 30 per address, within 15 minutes.
            limiter: Arc::new(auth::rate_limit::LoginLimiter::new(
                Duration::from_secs(15 * 60),
                5,
                30,
            )),
            demo,
            store,
            media_slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            media_memory: Arc::new(tokio::sync::Semaphore::new(
                (media::pipeline::MEMORY_BUDGET / media::pipeline::MIB) as usize,
            )),
            uploads_in_flight: Arc::default(),
        })
    }
}

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
        // Resources, not bare routes: another method gets 405, not the PWA's shell.
        .service(aw::resource("/healthz").route(aw::get().to(api::health::healthz)))
        .service(aw::resource("/readyz").route(aw::get().to(api::health::readyz)))
        .service(
            aw::scope("/api/v1")
                .wrap(from_fn(http::idempotency))
                .configure(api::configure)
                .default_service(aw::to(api::route_not_found)),
        )
        .configure(web::configure)
        .wrap(from_fn(http::problem_fallback))
        .wrap(from_fn(http::body_timeout::cut_stalled_bodies))
        .wrap(http::security_headers())
        .wrap(from_fn(http::request_id_header))
        .wrap(tracing_actix_web::TracingLogger::<http::QuietRootSpan>::new())
}
