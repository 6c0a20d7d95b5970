//! Authentication: who is calling. Authorization lives in `permissions`.

pub mod jwt;
pub mod oidc;
pub mod password;
pub mod permissions;
pub mod rate_limit;

use crate::error::AppError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{http::header, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

pub use crate::domain::{Actor, CustomerScope, Membership, RequestContext, Role};
pub use permissions::{allows, customer_scope, Action};

/// Where a request came from, for the audit log.
pub fn request_context(req: &HttpRequest) -> RequestContext {
    RequestContext {
        ip: req.peer_addr().map(|a| a.ip().to_string()),
        request_id: req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| id.to_string()),
    }
}

impl FromRequest for RequestContext {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(request_context(req)))
    }
}

impl Actor {
    pub fn require(&self, action: Action, what_en: &str, what_sv: &str) -> Result<(), AppError> {
        if allows(self.role, action) {
            Ok(())
        } else {
            Err(AppError::forbidden(what_en, what_sv))
        }
    }

    pub fn scope(&self) -> CustomerScope {
        customer_scope(self)
    }
}

impl Actor {
    /// The user as the command line acts for them (no request behind it).
    pub fn load_by_username(
        conn: &mut crate::db::DbConn,
        username: &str,
    ) -> Result<Option<Self>, AppError> {
        let Some(user) = crate::db::users::find_by_username(conn, username)?.filter(|u| u.active)
        else {
            return Ok(None);
        };
        let groups = crate::db::users::memberships_of(conn, &user.id)?;
        let role = user.role;
        Ok(Some(Actor {
            id: user.id,
            username: user.username,
            role,
            alarm_lead: user.alarm_lead,
            groups,
            session_id: None,
            ctx: RequestContext {
                ip: None,
                request_id: Some("cli".into()),
            },
        }))
    }
}

/// Whether a presented token equals a configured one (the metrics' or
/// SCIM's), compared in constant time so the answer's timing tells nothing.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

impl FromRequest for Actor {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let ctx = request_context(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))?;
            let claims = token
                .and_then(|t| state.keys.verify(&t))
                .ok_or_else(AppError::unauthenticated)?;
            let (user_id, sid) = (claims.sub.clone(), claims.sid.clone());
            let loaded = state
                .db
                .run(move |conn| {
                    let open = match &sid {
                        Some(sid) => crate::db::tokens::session_is_open(conn, sid)?,
                        None => true,
                    };
                    Ok(crate::db::users::load_session(conn, &user_id)?.filter(|_| open))
                })
                .await?;
            match loaded {
                Some((user, groups)) if user.active && user.token_version == claims.tv => {
                    // An id, never a name: the log carries no personal data.
                    tracing::Span::current().record("user_id", user.id.as_str());
                    let role = user.role;
                    Ok(Actor {
                        id: user.id,
                        username: user.username,
                        role,
                        alarm_lead: user.alarm_lead,
                        groups,
                        session_id: claims.sid,
                        ctx,
                    })
                }
                _ => Err(AppError::unauthenticated()),
            }
        })
    }
}
