//! Login, token refresh and logout.

use super::json::Json;
use super::query::Query;
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
        .service(me)
        .service(methods)
        .service(oidc_start)
        .service(oidc_callback)
        .service(oidc_token);
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
        (status = 403, description = "Password login is switched off for this account (`password_login_off`): log in through the identity provider", body = Problem, content_type = "application/problem+json"),
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
    let outcome = app::sessions::login(
        &state.db,
        issuer(&state),
        ctx,
        username,
        given,
        state.demo,
        state.password_policy(),
    )
    .await?;
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

#[derive(Serialize, ToSchema)]
pub struct LoggedOut {
    /// The identity provider's logout page (RP-initiated logout): send the
    /// browser there to end the provider's session too. It comes back to the app.
    pub end_session_url: String,
}

/// Ends this session (the refresh token's family), or every session of the user.
///
/// A session that began at the identity provider answers 200 with the
/// provider's logout URL when the provider has one; otherwise 204.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    request_body = LogoutRequest,
    responses(
        (status = 200, description = "Logged out of Larmkoll; the provider's session ends at `end_session_url`", body = LoggedOut),
        (status = 204, description = "Logged out"),
    ))]
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
    let session = user.session_id.clone();
    app::sessions::logout(&state.db, user, refresh_token, all_sessions).await?;
    let provider = match &state.oidc {
        Some(oidc) => app::sessions::provider_logout(&state.db, oidc, session).await?,
        None => None,
    };
    Ok(match provider {
        Some(end_session_url) => HttpResponse::Ok().json(LoggedOut { end_session_url }),
        None => HttpResponse::NoContent().finish(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct LoginMethods {
    /// Whether the password form is for everyone. `false`: only the
    /// break-glass accounts log in with a password (for when the provider is down).
    pub password: bool,
    /// Sign-in through the municipality's identity provider, when configured.
    pub provider: Option<ProviderLogin>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderLogin {
    /// The login button's text.
    #[schema(example = "Logga in med kommunens inloggning")]
    pub button_text: String,
    /// Open this in the browser (a navigation, not a fetch) with `?app=desk`
    /// or `?app=field`; the login comes back to that app with a ticket for
    /// `POST /api/v1/auth/oidc/token`.
    #[schema(example = "/api/v1/auth/oidc/start")]
    pub start_url: String,
}

/// How one logs in here: the password form, the identity provider, or both.
///
/// Public: the desk and the field app ask before they draw the login, and the
/// field app remembers the answer for a start without signal.
#[utoipa::path(tag = "auth", security(()),
    responses((status = 200, description = "The login methods", body = LoginMethods)))]
#[get("/auth/methods")]
pub async fn methods(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(LoginMethods {
        password: state.settings.password_login,
        provider: state.oidc.as_ref().map(|o| ProviderLogin {
            button_text: o.config.button_text.clone(),
            start_url: "/api/v1/auth/oidc/start".into(),
        }),
    })
}

/// The browser binding of a login at the provider.
const BINDING_COOKIE: &str = "larmkoll_oidc";

fn not_configured() -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::OidcNotConfigured,
        "Sign-in through an identity provider is not set up on this server.",
        "Inloggning via kommunens inloggningstjänst är inte inställd på den här servern.",
    )
}

/// The cookie that binds a login's state to this browser, or clears it.
fn binding_cookie(state: &AppState, value: Option<String>) -> actix_web::cookie::Cookie<'static> {
    let secure = state.settings.public_url().starts_with("https://");
    let mut cookie =
        actix_web::cookie::Cookie::build(BINDING_COOKIE, value.clone().unwrap_or_default())
            .path("/api/v1/auth/oidc")
            .http_only(true)
            .secure(secure)
            .same_site(actix_web::cookie::SameSite::Lax)
            .finish();
    match value {
        Some(_) => cookie.set_max_age(actix_web::cookie::time::Duration::minutes(10)),
        None => cookie.make_removal(),
    }
    cookie
}

fn see_other(state: &AppState, to: app::sessions::Redirect) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to.location))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .cookie(binding_cookie(state, to.binding))
        .finish()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// The app the login returns to: `desk` or `field` (the default).
    #[param(inline, value_type = Option<String>, pattern = "^(desk|field)$")]
    pub app: Option<String>,
}

/// Starts a login at the municipality's identity provider.
///
/// A browser navigation, not a fetch: redirects to the provider with a fresh
/// state, nonce and PKCE challenge (S256), asking for the required assurance
/// level, and binds the state to this browser with an HttpOnly cookie.
#[utoipa::path(tag = "auth", security(()),
    params(StartQuery),
    responses(
        (status = 303, description = "To the identity provider (or, when it cannot be reached, back to the app with a ticket that tells so)", headers(("Location" = String, description = "Where to go"))),
        (status = 404, description = "No identity provider is configured", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/auth/oidc/start")]
pub async fn oidc_start(
    state: web::Data<AppState>,
    ctx: RequestContext,
    query: Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    let oidc = state.oidc.clone().ok_or_else(not_configured)?;
    let app = query
        .app
        .as_deref()
        .and_then(app::sessions::LoginApp::parse)
        .unwrap_or(app::sessions::LoginApp::Field);
    let to = app::sessions::oidc_begin(&state.db, &oidc, ctx, app).await?;
    Ok(see_other(&state, to))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's error code, when it stopped the login.
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

/// Where the identity provider sends the browser back.
///
/// The redirect URI to register at the provider:
/// `<public url>/api/v1/auth/oidc/callback`. Checks the answer (state, code,
/// ID token, assurance level, the person) and sends the browser on to the app
/// with a one-time ticket in the URL's fragment, which
/// `POST /api/v1/auth/oidc/token` redeems. A refusal is audited and travels
/// the same way, so the app shows it in the server's words.
#[utoipa::path(tag = "auth", security(()),
    params(CallbackQuery),
    responses(
        (status = 303, description = "To the app with a ticket (signed in, or the refusal in words)", headers(("Location" = String, description = "The app, with `#oidc=<ticket>`"))),
        (status = 404, description = "No identity provider is configured", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/auth/oidc/callback")]
pub async fn oidc_callback(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    ctx: RequestContext,
    query: Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let oidc = state.oidc.clone().ok_or_else(not_configured)?;
    let CallbackQuery {
        code,
        state: st,
        error,
        ..
    } = query.into_inner();
    let answer = app::sessions::Callback {
        state: st,
        code,
        error,
        binding: req.cookie(BINDING_COOKIE).map(|c| c.value().to_string()),
    };
    let to = app::sessions::oidc_callback(&state.db, &oidc, ctx, answer).await?;
    Ok(see_other(&state, to))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    /// The ticket from the app's URL fragment (`#oidc=<ticket>`).
    pub ticket: String,
}

/// Redeems the ticket a login at the identity provider ended with.
///
/// Answers the token pair, as a password login gives, or the refusal
/// (`detail_sv` says why and what to do). Each ticket works once, for two
/// minutes.
#[utoipa::path(tag = "auth", security(()),
    request_body = TicketRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Unknown, used or expired ticket", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The login was refused (`login_refused`): unknown person, account switched off, too low assurance, an answer that did not hold up", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/auth/oidc/token")]
pub async fn oidc_token(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: Json<TicketRequest>,
) -> Result<HttpResponse, AppError> {
    let (pair, profile) =
        app::sessions::oidc_redeem(&state.db, issuer(&state), ctx, body.into_inner().ticket)
            .await?;
    Ok(HttpResponse::Ok().json(token_response(&state, pair, profile)))
}

/// Who am I: role, alarm-lead flag and groups.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me)))]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, user: Actor) -> Result<HttpResponse, AppError> {
    let me = me_dto(app::sessions::me(&state.db, user).await?);
    Ok(HttpResponse::Ok().json(me))
}
