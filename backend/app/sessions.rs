//! Sessions: logging in, refreshing the token pair, logging out, and who the
//! signed-in user is. A session is a refresh-token family; its access tokens
//! name it.

use crate::auth::jwt::{self, TokenKeys};
use crate::auth::password;
use crate::db::{self, audit, org, tokens, users, Db, DbConn};
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
) -> Result<Option<(TokenPair, Profile)>, AppError> {
    db.run(move |conn| {
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
