//! Login, token refresh and logout.

use super::json::Json;
use crate::auth::{jwt, password, Actor, RequestContext};
use crate::db::{self, audit, tokens, users, DbConn};
use crate::domain::{GroupKind, Role};
use crate::error::ErrorCode;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post};
use actix_web::{web, HttpResponse};
use chrono::Duration;
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
    let demo = state.demo;
    let st = state.clone();
    let attempted = username.clone();
    let outcome = state
        .db
        .run(move |conn| {
            let user = users::find_by_username(conn, &username)?;
            let ok = match &user {
                Some(u) => {
                    let matches = password::verify(&given, &u.password_hash);
                    // The demo password works only while the server runs in demo mode.
                    matches && u.active && (demo || given != "demo")
                }
                None => {
                    password::verify_against_nobody(&given);
                    false
                }
            };
            match user.filter(|_| ok) {
                Some(u) => {
                    let pair = issue_pair(conn, &st, &u.id, u.token_version, None)?;
                    let profile = load_me(conn, &u)?;
                    audit::record_as(
                        conn,
                        Some(&u.id),
                        &u.username,
                        &ctx,
                        audit::Entry::new("auth.login", "user", Some(&u.id)),
                    )?;
                    Ok(Some((pair, profile)))
                }
                None => {
                    audit::record_as(
                        conn,
                        None,
                        &username,
                        &ctx,
                        audit::Entry::new("auth.login", "user", None)
                            .outcome(audit::Outcome::Failed),
                    )?;
                    Ok(None)
                }
            }
        })
        .await?;
    match outcome {
        Some((pair, profile)) => {
            state.limiter.record_success(&profile.username);
            Ok(HttpResponse::Ok().json(pair.into_response(&state, profile)))
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

struct TokenPair {
    access: String,
    refresh: String,
}

impl TokenPair {
    fn into_response(self, state: &AppState, user: Me) -> TokenResponse {
        TokenResponse {
            access_token: self.access,
            token_type: "Bearer",
            expires_in: state.settings.access_token_minutes * 60,
            refresh_token: self.refresh,
            refresh_expires_in: state.settings.refresh_token_days * 86_400,
            user,
        }
    }
}

fn issue_pair(
    conn: &mut DbConn,
    state: &AppState,
    user_id: &str,
    token_version: i32,
    family: Option<String>,
) -> Result<TokenPair, AppError> {
    let refresh_token = jwt::new_refresh_token();
    let now = db::now();
    let family_id = family.unwrap_or_else(db::new_id);
    tokens::insert(
        conn,
        &tokens::RefreshTokenRow {
            id: db::new_id(),
            user_id: user_id.to_string(),
            family_id: family_id.clone(),
            token_hash: jwt::hash_refresh_token(&refresh_token),
            created_at: now,
            expires_at: now + Duration::days(state.settings.refresh_token_days),
            used_at: None,
            revoked_at: None,
        },
    )?;
    let access = state.keys.issue(
        user_id,
        token_version,
        &family_id,
        state.settings.access_token_minutes,
    );
    Ok(TokenPair {
        access,
        refresh: refresh_token,
    })
}

pub fn load_me(conn: &mut DbConn, u: &users::UserRow) -> Result<Me, AppError> {
    let ids: Vec<String> = users::memberships_of(conn, &u.id)?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    let groups = db::org::find_groups(conn, &ids)?
        .into_iter()
        .map(|g| {
            Ok(MyGroup {
                kind: g.kind,
                id: g.id,
                name: g.name,
                area_id: g.area_id,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(Me {
        id: u.id.clone(),
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        role: u.role,
        alarm_lead: u.alarm_lead,
        groups,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

fn invalid_refresh() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidRefreshToken,
        "This refresh token is not valid any more. Log in again.",
        "Förnyelsetoken gäller inte längre. Logga in igen.",
    )
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
    let hash = jwt::hash_refresh_token(body.refresh_token.trim());
    let st = state.clone();
    // Reuse revokes the family; that must persist even though the call fails.
    let result = state
        .db
        .transaction(move |conn| {
            let Some(token) = tokens::find_by_hash(conn, &hash)? else {
                return Ok(Err(invalid_refresh()));
            };
            let now = db::now();
            let user = users::find(conn, &token.user_id)?.ok_or_else(invalid_refresh)?;
            let reused = token.used_at.is_some()
                || token.revoked_at.is_some()
                || !tokens::mark_used(conn, &token.id, now)?;
            if reused {
                tokens::revoke_family(conn, &token.family_id, now)?;
                audit::record_as(
                    conn,
                    Some(&user.id),
                    &user.username,
                    &ctx,
                    audit::Entry::new("auth.refresh_reused", "user", Some(&user.id))
                        .outcome(audit::Outcome::Denied),
                )?;
                return Ok(Err(invalid_refresh()));
            }
            if token.expires_at <= now || !user.active {
                return Ok(Err(invalid_refresh()));
            }
            let pair = issue_pair(
                conn,
                &st,
                &user.id,
                user.token_version,
                Some(token.family_id),
            )?;
            let profile = load_me(conn, &user)?;
            Ok(Ok((pair, profile)))
        })
        .await?;
    let (pair, profile) = result?;
    Ok(HttpResponse::Ok().json(pair.into_response(&state, profile)))
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
    state
        .db
        .transaction(move |conn| {
            let now = db::now();
            if all_sessions {
                crate::app::org::cut_sessions(conn, &user.id)?;
            } else {
                // The session the access token names ends, and the one the refresh token names (normally the same).
                let named = match refresh_token {
                    Some(t) => tokens::find_by_hash(conn, &jwt::hash_refresh_token(t.trim()))?
                        .map(|t| t.family_id),
                    None => None,
                };
                for family in user.session_id.iter().chain(named.iter()) {
                    tokens::revoke_family_of_user(conn, family, &user.id, now)?;
                }
            }
            audit::record(
                conn,
                &user,
                audit::Entry::new("auth.logout", "user", Some(&user.id)),
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I: role, alarm-lead flag and groups.
#[utoipa::path(tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Me)))]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, user: Actor) -> Result<HttpResponse, AppError> {
    let me = state
        .db
        .run(move |conn| {
            let row = users::find(conn, &user.id)?.ok_or_else(AppError::unauthenticated)?;
            load_me(conn, &row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}
