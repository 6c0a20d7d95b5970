//! The server's shared state: what every request handler and background task
//! may need, built once at start-up.

use crate::auth::jwt::TokenKeys;
use crate::auth::rate_limit::LoginLimiter;
use crate::config::Settings;
use crate::db;
use crate::media::storage::BlobStore;
use crate::media::{self, pipeline, InFlight};
use std::sync::Arc;
use std::time::Duration;

/// Everything a request handler may need.
pub struct AppState {
    pub db: db::Db,
    pub keys: TokenKeys,
    pub settings: Settings,
    pub limiter: Arc<LoginLimiter>,
    /// Demo mode: the demo users' password `demo` is accepted only then.
    pub demo: bool,
    /// Where document photos are kept.
    pub store: Arc<dyn BlobStore>,
    /// How many photos are processed at once, so uploads cannot starve the API.
    pub media_slots: Arc<tokio::sync::Semaphore>,
    /// The photos' memory budget in MiB: each photo is admitted by what its
    /// header says it needs, so photos at once never need more together.
    pub media_memory: Arc<tokio::sync::Semaphore>,
    /// Uploads between writing their files and committing their record.
    pub uploads_in_flight: Arc<InFlight>,
    /// `media_slots`' and `media_memory`'s sizes, for the metrics.
    pub photo_slots: usize,
    pub photo_memory_mib: usize,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The municipality's identity provider, when one is configured.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
}

impl AppState {
    pub fn new(
        db: db::Db,
        keys: TokenKeys,
        settings: Settings,
        demo: bool,
    ) -> std::io::Result<Self> {
        let store = media::open_store(&settings)?;
        let slots = match settings.photo_workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get().div_ceil(2))
                .unwrap_or(1),
            n => n,
        };
        let memory_mib = (pipeline::MEMORY_BUDGET / pipeline::MIB) as usize;
        let metrics = Arc::new(crate::metrics::Metrics::new(db.pool_waits()));
        let oidc = identity_provider(&settings).map_err(std::io::Error::other)?;
        Ok(Self {
            db,
            keys,
            settings,
            // 5 failures per account, 30 per address, within 15 minutes.
            limiter: Arc::new(LoginLimiter::new(Duration::from_secs(15 * 60), 5, 30)),
            demo,
            store,
            media_slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            media_memory: Arc::new(tokio::sync::Semaphore::new(memory_mib)),
            uploads_in_flight: Arc::default(),
            photo_slots: slots,
            photo_memory_mib: memory_mib,
            metrics,
            oidc,
        })
    }

    /// Who may log in with a password.
    pub fn password_policy(&self) -> crate::app::sessions::PasswordPolicy {
        crate::app::sessions::PasswordPolicy {
            enabled: self.settings.password_login,
            break_glass: self.settings.break_glass_accounts.clone(),
        }
    }
}

/// The identity provider from the settings: issuer and client id both, or
/// neither; the secret from the environment only.
fn identity_provider(settings: &Settings) -> anyhow::Result<Option<Arc<crate::auth::oidc::Oidc>>> {
    let (issuer, client_id) = match (&settings.oidc_issuer, &settings.oidc_client_id) {
        (None, None) => return Ok(None),
        (Some(i), Some(c)) => (i.clone(), c.clone()),
        _ => anyhow::bail!(
            "LARMKOLL_OIDC_ISSUER and LARMKOLL_OIDC_CLIENT_ID go together: set both, or neither"
        ),
    };
    let client_secret = std::env::var("LARMKOLL_OIDC_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    let config = crate::auth::oidc::OidcConfig {
        issuer,
        client_id,
        client_secret,
        redirect_uri: format!(
            "{}{}",
            settings.public_url().trim_end_matches('/'),
            crate::app::sessions::CALLBACK_PATH
        ),
        scopes: settings
            .oidc_scopes
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        match_claim: settings.oidc_match_claim.clone(),
        required_acr: settings.oidc_required_acr.clone(),
        button_text: settings.oidc_button_text.clone(),
    };
    Ok(Some(Arc::new(crate::auth::oidc::Oidc::new(config)?)))
}
