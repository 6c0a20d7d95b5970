//! Sessions: logging in, refreshing the token pair, logging out, and who the
//! signed-in user is. A session is a refresh-token family; its access tokens
//! name it.

use crate::auth::jwt::{self, TokenKeys};
use crate::auth::oidc::{Oidc, Refusal};
use crate::auth::password;
use crate::db::{self, audit, oidc as logins, org, tokens, users, Db, DbConn};
use crate::domain::{Actor, RequestContext};
use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::StatusCode;
use chrono::Duration;

/// What issuing a token pair takes: the signing keys and the two lifetimes.
#[derive(Clone)]
pub struct Issuer {
    pub keys: TokenKeys,
    pub access_token_minutes: i64,
    pub refresh_token_days: i64,
}

/// A new access token and the refresh token to exchange once for the next pair.
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// The signed-in user and the groups they belong to.
pub struct Profile {
    pub user: users::UserRow,
    pub groups: Vec<org::GroupRow>,
}

fn invalid_refresh() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidRefreshToken,
        "This refresh token is not valid any more. Log in again.",
        "Förnyelsetoken gäller inte längre. Logga in igen.",
    )
}

/// Who may log in with a password: everyone, or when password login is
/// switched off (the municipality's identity provider is the way in) only the
/// break-glass accounts.
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    pub enabled: bool,
    pub break_glass: Vec<String>,
}

impl PasswordPolicy {
    fn allows(&self, username: &str) -> bool {
        self.enabled
            || self
                .break_glass
                .iter()
                .any(|b| b.trim().eq_ignore_ascii_case(username))
    }
}

/// Checks a username and password and, when they match an active user,
/// starts a session; both outcomes are audited. `None`: refused, without
/// telling whether the username or the password was wrong. The demo
/// password works only while the server runs in `demo` mode.
pub async fn login(
    db: &Db,
    issuer: Issuer,
    ctx: RequestContext,
    username: String,
    given: String,
    demo: bool,
    policy: PasswordPolicy,
) -> Result<Option<(TokenPair, Profile)>, AppError> {
    db.run(move |conn| {
        if !policy.allows(&username) {
            audit::record_as(
                conn,
                None,
                &username,
                &ctx,
                audit::Entry::new("auth.login", "user", None)
                    .outcome(audit::Outcome::Denied)
                    .reason(Some("password_login_off")),
            )?;
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::PasswordLoginOff,
                "Password login is switched off: log in through the municipality's login service.",
                "Inloggning med lösenord är avstängd: logga in via kommunens inloggningstjänst.",
            ));
        }
        let user = users::find_by_username(conn, &username)?;
        let ok = match &user {
            Some(u) => {
                let matches = password::verify(&given, &u.password_hash);
                matches && u.active && (demo || given != "demo")
            }
            None => {
                password::verify_against_nobody(&given);
                false
            }
        };
        match user.filter(|_| ok) {
            Some(u) => {
                let pair = issue_pair(conn, &issuer, &u.id, u.token_version, None)?;
                let profile = profile_of(conn, u)?;
                let u = &profile.user;
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
                    audit::Entry::new("auth.login", "user", None).outcome(audit::Outcome::Failed),
                )?;
                Ok(None)
            }
        }
    })
    .await
}

/// Exchanges a refresh token for a new pair in the same session. Each works
/// once: presenting a used one ends its whole session (a stolen copy is dead),
/// and that stays ended although the call is refused.
pub async fn refresh(
    db: &Db,
    issuer: Issuer,
    ctx: RequestContext,
    refresh_token: String,
) -> Result<(TokenPair, Profile), AppError> {
    let hash = jwt::hash_refresh_token(refresh_token.trim());
    // Reuse revokes the family; that must persist even though the call fails.
    db.transaction(move |conn| {
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
            &issuer,
            &user.id,
            user.token_version,
            Some(token.family_id),
        )?;
        let profile = profile_of(conn, user)?;
        Ok(Ok((pair, profile)))
    })
    .await?
}

/// Ends the actor's session and the one the refresh token names (normally the
/// same), or with `all_sessions` every session of the actor on every device.
pub async fn logout(
    db: &Db,
    user: Actor,
    refresh_token: Option<String>,
    all_sessions: bool,
) -> Result<(), AppError> {
    db.transaction(move |conn| {
        let now = db::now();
        if all_sessions {
            crate::app::org::cut_sessions(conn, &user.id)?;
        } else {
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
    .await
}

/// The signed-in user as stored now, with their groups.
pub async fn me(db: &Db, user: Actor) -> Result<Profile, AppError> {
    db.run(move |conn| {
        let row = users::find(conn, &user.id)?.ok_or_else(AppError::unauthenticated)?;
        profile_of(conn, row)
    })
    .await
}

/// Stores a new refresh token in `family` (a new session when `None`) and
/// signs an access token naming that session.
fn issue_pair(
    conn: &mut DbConn,
    issuer: &Issuer,
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
            expires_at: now + Duration::days(issuer.refresh_token_days),
            used_at: None,
            revoked_at: None,
        },
    )?;
    let access = issuer.keys.issue(
        user_id,
        token_version,
        &family_id,
        issuer.access_token_minutes,
    );
    Ok(TokenPair {
        access,
        refresh: refresh_token,
    })
}

fn profile_of(conn: &mut DbConn, user: users::UserRow) -> Result<Profile, AppError> {
    let ids: Vec<String> = users::memberships_of(conn, &user.id)?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    let groups = org::find_groups(conn, &ids)?;
    Ok(Profile { user, groups })
}

// --- Sign-in through the identity provider (OpenID Connect) -----------------

/// How long a person may take at the provider before the callback.
const OIDC_LOGIN_MINUTES: i64 = 10;
/// How long the app has to redeem the ticket the callback hands it.
const OIDC_TICKET_SECONDS: i64 = 120;

/// The two apps a login at the provider returns to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginApp {
    Desk,
    Field,
}

impl LoginApp {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginApp::Desk => "desk",
            LoginApp::Field => "field",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "desk" => Some(LoginApp::Desk),
            "field" => Some(LoginApp::Field),
            _ => None,
        }
    }

    /// Where the app takes the ticket from (a fragment: never sent to a server, nor in a Referer).
    fn landing(self, ticket: &str) -> String {
        match self {
            LoginApp::Desk => format!("/desk/index.html#oidc={ticket}"),
            LoginApp::Field => format!("/#oidc={ticket}"),
        }
    }

    /// Where the provider sends the person after its logout.
    pub fn after_logout(self) -> &'static str {
        match self {
            LoginApp::Desk => "/desk/index.html",
            LoginApp::Field => "/",
        }
    }
}

/// Where to send the browser next, and the browser binding to set as a
/// cookie (`None`: clear it).
pub struct Redirect {
    pub location: String,
    pub binding: Option<String>,
}

fn sha256(text: &str) -> String {
    jwt::hash_refresh_token(text)
}

/// The browser binding's cookie value: the app it returns to and a secret.
fn binding_of(cookie: Option<&str>) -> (LoginApp, Option<&str>) {
    match cookie.and_then(|c| c.split_once('.')) {
        Some((app, secret)) => (LoginApp::parse(app).unwrap_or(LoginApp::Desk), Some(secret)),
        None => (LoginApp::Desk, None),
    }
}

/// Starts a login at the provider: a state, a nonce and a PKCE verifier kept
/// for the callback, the state bound to this browser by a cookie. When the
/// provider cannot be reached, the app is told so at once.
pub async fn oidc_begin(
    db: &Db,
    oidc: &Oidc,
    ctx: RequestContext,
    app: LoginApp,
) -> Result<Redirect, AppError> {
    let begun = match oidc.begin().await {
        Ok(b) => b,
        Err(refusal) => {
            let location = db
                .transaction(move |conn| refuse(conn, None, app, &ctx, None, None, &refusal))
                .await?;
            return Ok(Redirect {
                location,
                binding: None,
            });
        }
    };
    let secret = jwt::new_refresh_token();
    let now = db::now();
    let row = logins::OidcLoginRow {
        state_hash: Some(sha256(&begun.state)),
        browser_hash: sha256(&secret),
        nonce: begun.nonce,
        pkce_verifier: begun.pkce_verifier,
        expires_at: now + Duration::minutes(OIDC_LOGIN_MINUTES),
        ..login_row(app, now)
    };
    db.transaction(move |conn| {
        logins::insert(conn, &row)?;
        logins::weed(conn, now - Duration::days(1), now - Duration::days(90))?;
        Ok(())
    })
    .await?;
    Ok(Redirect {
        location: begun.url,
        binding: Some(format!("{}.{secret}", app.as_str())),
    })
}

/// What the provider sent back to the callback.
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    /// The browser binding cookie.
    pub binding: Option<String>,
}

/// Judges the provider's answer: the state must be one this browser started
/// and not used, the code must redeem, the ID token must hold up, and the
/// person must be an active user. Either way the app gets a ticket; a refusal
/// is audited and changes nothing else.
pub async fn oidc_callback(
    db: &Db,
    oidc: &Oidc,
    ctx: RequestContext,
    answer: Callback,
) -> Result<Redirect, AppError> {
    let (cookie_app, secret) = binding_of(answer.binding.as_deref());
    let browser = secret.map(sha256);
    let state = answer.state.as_deref().map(sha256);
    let now = db::now();
    // Which login this answers, in one transaction with claiming it.
    let claim_ctx = ctx.clone();
    let claimed = db
        .transaction(move |conn| {
            let row = match &state {
                Some(s) => logins::find_by_state(conn, s)?,
                None => None,
            };
            let refusal = match &row {
                None if state.is_none() => Some(state_refusal("state_missing")),
                None => Some(state_refusal("state_unknown")),
                Some(r) if r.called_back_at.is_some() => Some(state_refusal("state_replayed")),
                Some(r) if browser.as_deref() != Some(r.browser_hash.as_str()) => {
                    Some(state_refusal("state_other_browser"))
                }
                Some(r) if r.expires_at < now => Some(Refusal::new(
                    "login_expired",
                    "The login took too long. Start it again.",
                    "Inloggningen tog för lång tid. Börja om.",
                )),
                Some(r) if !logins::mark_called_back(conn, &r.id, now)? => {
                    Some(state_refusal("state_replayed"))
                }
                Some(_) => None,
            };
            match (refusal, row) {
                (Some(refusal), row) => {
                    // Replays and other browsers get a row of their own: the login they name stays as it was.
                    let app = row
                        .as_ref()
                        .and_then(|r| LoginApp::parse(&r.app))
                        .unwrap_or(cookie_app);
                    let own = row
                        .filter(|_r| refusal.reason == "login_expired")
                        .map(|r| r.id);
                    Ok(Err(refuse(
                        conn, own, app, &claim_ctx, None, None, &refusal,
                    )?))
                }
                (None, Some(row)) => Ok(Ok(row)),
                (None, None) => unreachable!("no row is refused above"),
            }
        })
        .await?;
    let row = match claimed {
        Ok(row) => row,
        Err(location) => {
            return Ok(Redirect {
                location,
                binding: None,
            })
        }
    };
    let app = LoginApp::parse(&row.app).unwrap_or(LoginApp::Desk);
    let vouched = match (answer.error, answer.code) {
        (Some(error), _) => Err(Refusal::new(
            "provider_error",
            format!("The login was stopped at the identity provider ({error}). Start it again."),
            "Inloggningen avbröts hos kommunens inloggningstjänst. Börja om.".to_string(),
        )),
        (None, None) => Err(state_refusal("no_code")),
        (None, Some(code)) => {
            oidc.finish(code, row.pkce_verifier.clone(), row.nonce.clone())
                .await
        }
    };
    let location = db
        .transaction(move |conn| {
            let vouched = match vouched {
                Ok(v) => v,
                Err(refusal) => {
                    return refuse(conn, Some(row.id), app, &ctx, None, None, &refusal)
                }
            };
            let Some(user) = users::find_by_external_id(conn, &vouched.identity)? else {
                let refusal = Refusal::new(
                    "unknown_person",
                    "You are not a user of Larmkoll. Ask Larmkoll's administrator in the municipality to add you with the identity you log in with.",
                    "Du finns inte som användare i Larmkoll. Be kommunens administratör för Larmkoll att lägga upp dig med den identitet du loggar in med.",
                );
                let who = format!("oidc:{}", vouched.identity.chars().take(200).collect::<String>());
                return refuse(conn, Some(row.id), app, &ctx, None, Some(&who), &refusal);
            };
            if !user.active {
                let refusal = Refusal::new(
                    "user_inactive",
                    "Your Larmkoll account is switched off. Contact Larmkoll's administrator in the municipality.",
                    "Ditt konto i Larmkoll är avstängt. Kontakta kommunens administratör för Larmkoll.",
                );
                return refuse(
                    conn,
                    Some(row.id),
                    app,
                    &ctx,
                    Some(&user.id),
                    Some(&user.username),
                    &refusal,
                );
            }
            let ticket = jwt::new_refresh_token();
            logins::set_outcome(
                conn,
                &row.id,
                &sha256(&ticket),
                db::now() + Duration::seconds(OIDC_TICKET_SECONDS),
                Some(&user.id),
                None,
                Some(&vouched.id_token),
            )?;
            Ok(app.landing(&ticket))
        })
        .await?;
    Ok(Redirect {
        location,
        binding: None,
    })
}

/// A login row with nothing recorded yet, expiring at once.
fn login_row(app: LoginApp, now: chrono::NaiveDateTime) -> logins::OidcLoginRow {
    logins::OidcLoginRow {
        id: db::new_id(),
        state_hash: None,
        browser_hash: String::new(),
        nonce: String::new(),
        pkce_verifier: String::new(),
        app: app.as_str().into(),
        created_at: now,
        expires_at: now,
        called_back_at: None,
        ticket_hash: None,
        user_id: None,
        refusal_code: None,
        refusal_en: None,
        refusal_sv: None,
        redeemed_at: None,
        family_id: None,
        id_token: None,
    }
}

fn state_refusal(reason: &'static str) -> Refusal {
    Refusal::new(
        reason,
        "This login was not started in this browser, or has been used already. Start the login again from Larmkoll's login page.",
        "Inloggningen startades inte i den här webbläsaren eller har redan använts. Börja om från Larmkolls inloggningssida.",
    )
}

/// Records a refusal on the login's row (or a row of its own), audits it and
/// returns where the app shows it.
fn refuse(
    conn: &mut DbConn,
    row_id: Option<String>,
    app: LoginApp,
    ctx: &RequestContext,
    user_id: Option<&str>,
    who: Option<&str>,
    refusal: &Refusal,
) -> Result<String, AppError> {
    let ticket = jwt::new_refresh_token();
    let now = db::now();
    let id = match row_id {
        Some(id) => id,
        None => {
            // A refusal with no login of its own to record it on (no or a foreign state).
            let row = logins::OidcLoginRow {
                called_back_at: Some(now),
                ..login_row(app, now)
            };
            logins::insert(conn, &row)?;
            row.id
        }
    };
    logins::set_outcome(
        conn,
        &id,
        &sha256(&ticket),
        now + Duration::seconds(OIDC_TICKET_SECONDS),
        None,
        Some((refusal.reason, &refusal.en, &refusal.sv)),
        None,
    )?;
    let reason = format!("oidc:{}", refusal.reason);
    audit::record_as(
        conn,
        user_id,
        who.unwrap_or("oidc"),
        ctx,
        audit::Entry::new("auth.login", "user", user_id)
            .outcome(audit::Outcome::Denied)
            .reason(Some(&reason)),
    )?;
    Ok(app.landing(&ticket))
}

fn ticket_invalid() -> AppError {
    AppError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::LoginRefused,
        "This login is no longer valid (used already, or too old). Start the login again.",
        "Inloggningen gäller inte längre (den har redan använts eller är för gammal). Börja om.",
    )
}

/// Redeems the ticket the callback handed the app: a token pair for the
/// person the provider vouched for, or the refusal in words. Once only.
pub async fn oidc_redeem(
    db: &Db,
    issuer: Issuer,
    ctx: RequestContext,
    ticket: String,
) -> Result<(TokenPair, Profile), AppError> {
    let hash = sha256(ticket.trim());
    db.transaction(move |conn| {
        let now = db::now();
        let Some(row) = logins::find_by_ticket(conn, &hash)? else {
            return Err(ticket_invalid());
        };
        if row.expires_at < now || row.redeemed_at.is_some() {
            return Err(ticket_invalid());
        }
        if let (Some(en), Some(sv)) = (&row.refusal_en, &row.refusal_sv) {
            logins::redeem(conn, &row.id, now, None)?;
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::LoginRefused,
                en.clone(),
                sv.clone(),
            ));
        }
        let user = row
            .user_id
            .as_deref()
            .map(|id| users::find(conn, id))
            .transpose()?
            .flatten()
            .filter(|u| u.active)
            .ok_or_else(ticket_invalid)?;
        let family = db::new_id();
        if !logins::redeem(conn, &row.id, now, Some(&family))? {
            return Err(ticket_invalid());
        }
        let pair = issue_pair(conn, &issuer, &user.id, user.token_version, Some(family))?;
        audit::record_as(
            conn,
            Some(&user.id),
            &user.username,
            &ctx,
            audit::Entry::new("auth.login", "user", Some(&user.id)).reason(Some("oidc")),
        )?;
        let profile = profile_of(conn, user)?;
        Ok((pair, profile))
    })
    .await
}

/// The provider's logout URL for a session that began there (RP-initiated
/// logout), to send the browser to after Larmkoll's own logout.
pub async fn provider_logout(
    db: &Db,
    oidc: &Oidc,
    session_id: Option<String>,
) -> Result<Option<String>, AppError> {
    let Some(family) = session_id else {
        return Ok(None);
    };
    let row = db
        .run(move |conn| Ok(logins::find_by_family(conn, &family)?))
        .await?;
    let Some((id_token, app)) = row.and_then(|r| Some((r.id_token?, r.app))) else {
        return Ok(None);
    };
    let app = LoginApp::parse(&app).unwrap_or(LoginApp::Desk);
    let after = format!(
        "{}{}",
        oidc.config.redirect_uri.trim_end_matches(CALLBACK_PATH),
        app.after_logout()
    );
    Ok(oidc.logout_url(&id_token, &after).await)
}

/// Where the provider sends people back, below the public URL.
pub const CALLBACK_PATH: &str = "/api/v1/auth/oidc/callback";
