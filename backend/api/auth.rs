//! Login, token refresh and logout.

use super::json::Json;
use crate::app;
use crate::app::sessions::{Profile, TokenPair};
use crate::auth::{Actor, RequestContext};
use crate::domain::{GroupKind, Role};
use crate::error::ErrorCode;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(me);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "installator", "password": "demo"}))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; exchange it once at /auth/refresh for a new pair.
    pub refresh_token: String,
    pub refresh_expires_in: i64,
    pub user: Me,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// larmansvarig: gets escalations.
    pub alarm_lead: bool,
    pub groups: Vec<MyGroup>,
}

#[derive(Serialize, ToSchema)]
pub struct MyGroup {
    pub id: String,
    pub name: String,
    pub kind: GroupKind,
    pub area_id: String,
}

fn invalid_credentials() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCredentials,
        "Wrong username or password.",
        "Fel användarnamn eller lösenord.",
    )
}

/// Exchanges username and password for an access and a refresh token.
///
/// Failures do not tell whether the username or the password was wrong. After
/// repeated failures per account or per address the call answers 429 with
/// `Retry-After`.
#[utoipa::path(tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let LoginRequest {
        username,
        password: given,
    } = body.into_inner();
    // No username has U+0000 and PostgreSQL cannot even compare one: a failed login, audited as such.
    let username = username.trim().replace('\0', "\u{fffd}").to_lowercase();
    let address = ctx.ip.clone().unwrap_or_default();
    if let Some(wait) = state.limiter.blocked_for(&username, &address) {
        return Ok(too_many_attempts(wait));
    }
    let attempted = username.clone();
    let outcome =
        app::sessions::login(&state.db, issuer(&state), ctx, username, given, state.demo).await?;
    match outcome {
        Some((pair, profile)) => {
            state.limiter.record_success(&profile.user.username);
            Ok(HttpResponse::Ok().json(token_response(&state, pair, profile)))
        }
        None => {
            state.limiter.record_failure(&attempted, &address);
            Err(invalid_credentials())
        }
    }
}

fn too_many_attempts(wait: u64) -> HttpResponse {
    let err = AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyAttempts,
        format!("Too many failed logins. Wait {wait} seconds and try again."),
        format!("För många misslyckade inloggningar. Vänta {wait} sekunder och försök igen."),
    );
    let mut resp = actix_web::ResponseError::error_response(&err);
    resp.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(wait),
    );
    resp
}

/// What signing a pair takes, from the server's settings.
fn issuer(state: &AppState) -> app::sessions::Issuer {
    app::sessions::Issuer {
        keys: state.keys.clone(),
        access_token_minutes: state.settings.access_token_minutes,
        refresh_token_days: state.settings.refresh_token_days,
    }
}

fn token_response(state: &AppState, pair: TokenPair, user: Profile) -> TokenResponse {
    TokenResponse {
        access_token: pair.access,
        token_type: "Bearer",
        expires_in: state.settings.access_token_minutes * 60,
        refresh_token: pair.refresh,
        refresh_expires_in: state.settings.refresh_token_days * 86_400,
        user: me_dto(user),
    }
}

fn me_dto(Profile { user: u, groups }: Profile) -> Me {
    Me {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        role: u.role,
        alarm_lead: u.alarm_lead,
        groups: groups
            .into_iter()
            .map(|g| MyGroup {
                kind: g.kind,
                id: g.id,
                name: g.name,
                area_id: g.area_id,
            })
            .collect(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new pair. Each refresh token works once;
/// presenting a used one revokes its whole family (a stolen copy is dead).
#[utoipa::path(tag = "auth", security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = TokenResponse),
        (status = 401, description = "Unknown, expired, used or revoked refresh token", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let (pair, profile) = app::sessions::refresh(
        &state.db,
        issuer(&state),
        ctx,
        body.into_inner().refresh_token,
    )
    .await?;
    Ok(HttpResponse::Ok().json(token_response(&state, pair, profile)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The refresh token of this session. Optional: the access token already names its
    /// session, which ends either way (its access tokens stop working at their next request).
    pub refresh_token: Option<String>,
    /// End every session of this user, on every device.
    #[serde(default)]
    pub all_sessions: bool,
}

/// Ends this session (the refresh token's family), or every session of the user.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    request_body = LogoutRequest,
    responses((status = 204, description = "Logged out")))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<LogoutRequest>,
) -> Result<HttpResponse, AppError> {
    let LogoutRequest {
        refresh_token,
        all_sessions,
    } = body.into_inner();
    app::sessions::logout(&state.db, user, refresh_token, all_sessions).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I: role, alarm-lead flag and groups.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me)))]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, user: Actor) -> Result<HttpResponse, AppError> {
    let me = me_dto(app::sessions::me(&state.db, user).await?);
    Ok(HttpResponse::Ok().json(me))
}
