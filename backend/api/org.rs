//! The organisation: areas, groups, users and memberships. Admin writes;
//! every signed-in user may list areas and groups.

use super::json::Json;
use super::query::Query;
use crate::api::concurrency::{etag, expected_version};
use crate::app;
use crate::app::validation::Problems;
use crate::auth::{password, Action, Actor};
use crate::domain::{GroupKind, Role};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::{delete, get, patch, post, put};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_areas)
        .service(create_area)
        .service(list_groups)
        .service(create_group)
        .service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(set_password)
        .service(revoke_sessions)
        .service(add_member)
        .service(remove_member);
}

fn require_admin(user: &Actor) -> Result<(), AppError> {
    user.require(
        Action::ManageOrganisation,
        "manage the organisation",
        "administrera organisationen",
    )
}

#[derive(Serialize, ToSchema)]
pub struct Area {
    pub id: String,
    #[schema(example = "Boo")]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Saltsjöbaden"}))]
pub struct NewArea {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub name: String,
}

/// Areas (hemtjänstområden).
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    responses((status = 200, description = "All areas", body = Vec<Area>)))]
#[get("/areas")]
pub async fn list_areas(
    state: web::Data<AppState>,
    _user: Actor,
) -> Result<HttpResponse, AppError> {
    let rows = app::org::areas(&state.db).await?;
    let areas: Vec<Area> = rows
        .into_iter()
        .map(|a| Area {
            id: a.id,
            name: a.name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(areas))
}

/// Creates an area (admin).
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    request_body = NewArea,
    responses(
        (status = 201, description = "Created", body = Area),
        (status = 409, description = "An area with this name exists", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/areas")]
pub async fn create_area(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewArea>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut p = Problems::default();
    let name = p.text("name", &body.name, 100);
    p.finish()?;
    let created = app::org::create_area(&state.db, user, name).await?;
    Ok(HttpResponse::Created().json(Area {
        id: created.id,
        name: created.name,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Group {
    pub id: String,
    pub area_id: String,
    #[schema(example = "Boo hemtjänst")]
    pub name: String,
    pub kind: GroupKind,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"area_id": "3f0c2a91-6d4b-4e7f-8c15-9b2d7e0a4c63", "name": "Boo nattpatrull", "kind": "night_patrol"}))]
pub struct NewGroup {
    /// Id of an existing area (`GET /api/v1/areas`; otherwise 422 `unknown`).
    pub area_id: Uuid,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub name: String,
    pub kind: GroupKind,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GroupQuery {
    /// Only the groups of this area.
    pub area_id: Option<Uuid>,
}

fn group_dto(g: app::org::GroupRow) -> Result<Group, AppError> {
    Ok(Group {
        kind: g.kind,
        id: g.id,
        area_id: g.area_id,
        name: g.name,
    })
}

/// Groups (home care, alarm team, night patrol, reception team), optionally of one area.
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(GroupQuery),
    responses((status = 200, description = "Groups", body = Vec<Group>)))]
#[get("/groups")]
pub async fn list_groups(
    state: web::Data<AppState>,
    _user: Actor,
    query: Query<GroupQuery>,
) -> Result<HttpResponse, AppError> {
    let area = query.area_id.map(|a| a.to_string());
    let rows = app::org::groups(&state.db, area).await?;
    let groups = rows
        .into_iter()
        .map(group_dto)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(groups))
}

/// Creates a group in an area (admin).
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    request_body = NewGroup,
    responses(
        (status = 201, description = "Created", body = Group),
        (status = 409, description = "The area already has a group with this name", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/groups")]
pub async fn create_group(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewGroup>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut p = Problems::default();
    let name = p.text("name", &body.name, 100);
    p.finish()?;
    let created =
        app::org::create_group(&state.db, user, body.area_id.to_string(), name, body.kind).await?;
    Ok(HttpResponse::Created().json(group_dto(created)?))
}

#[derive(Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub alarm_lead: bool,
    pub active: bool,
    pub group_ids: Vec<String>,
    /// The identity the user signs in with at the municipality's identity
    /// provider (the value of the configured claim), if any.
    pub external_id: Option<String>,
    /// Whether the user has a password (otherwise they sign in only through the provider).
    pub has_password: bool,
    /// Pass as `If-Match: "<version>"` when changing the user.
    pub version: i32,
}

fn user_dto(u: app::org::UserRow, group_ids: Vec<String>) -> Result<User, AppError> {
    let has_password = app::org::has_password(&u);
    Ok(User {
        role: u.role,
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        alarm_lead: u.alarm_lead,
        active: u.active,
        group_ids,
        has_password,
        external_id: u.external_id,
        version: u.version,
    })
}

/// All users (admin).
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    responses((status = 200, description = "Users", body = Vec<User>)))]
#[get("/users")]
pub async fn list_users(state: web::Data<AppState>, user: Actor) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let list = app::org::users(&state.db)
        .await?
        .into_iter()
        .map(|(u, groups)| user_dto(u, groups))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "anna.lind", "display_name": "Anna Lind", "password": "byt-mig-snart-42", "role": "installer", "alarm_lead": false, "group_ids": []}))]
pub struct NewUser {
    /// Letters a–z (either case; stored in lower case), digits, `.`, `_`,
    /// `-` and `@` (a user principal name, as identity providers name people).
    #[schema(
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Za-z0-9._@-]{1,64}[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub username: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub display_name: String,
    /// At least 10 characters. Leave it out for a user who signs in only
    /// through the identity provider; `external_id` is then required.
    #[schema(min_length = 10)]
    pub password: Option<String>,
    pub role: Role,
    /// Only for an assessor (`role` `assessor`; otherwise 422 `invalid`).
    #[serde(default)]
    pub alarm_lead: bool,
    /// Ids of existing groups (`GET /api/v1/groups`; otherwise 422 `unknown`).
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
    /// The identity the user will sign in with at the identity provider: the
    /// value of the claim Larmkoll matches on (`oidc_match_claim`), e.g. the
    /// `sub`, an HSA-id or an e-mail address. Unique. A new user needs a
    /// password, an external identity, or both (otherwise 422 `required` on `password`).
    #[schema(max_length = 256, pattern = r"^[^\u0000]*$")]
    pub external_id: Option<String>,
}

impl From<NewUser> for crate::app::org::UserDraft {
    fn from(new: NewUser) -> Self {
        Self {
            username: new.username,
            display_name: new.display_name,
            password: new.password,
            role: new.role,
            alarm_lead: new.alarm_lead,
            group_ids: new.group_ids.iter().map(Uuid::to_string).collect(),
            external_id: new.external_id,
        }
    }
}

/// Creates a user (admin).
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User),
        (status = 409, description = "Username taken", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewUser>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let (row, groups) = app::org::add_user(&state.db, user, body.into_inner().into()).await?;
    let created = user_dto(row, groups)?;
    Ok(HttpResponse::Created()
        .insert_header(etag(created.version))
        .json(created))
}

async fn load_user(state: &AppState, id: Uuid) -> Result<User, AppError> {
    let (row, groups) = app::org::user(&state.db, id.to_string()).await?;
    user_dto(row, groups)
}

/// One user (admin).
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let found = load_user(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(found.version))
        .json(found))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct UserUpdate {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// Only an assessor is alarm lead: with the role sent (or else the user's),
    /// an alarm lead (this flag, or else the user's) who is not `assessor` is 422 `invalid`.
    pub alarm_lead: Option<bool>,
    /// A deactivated user cannot log in and their tokens stop working.
    pub active: Option<bool>,
    /// The identity at the identity provider; `""` removes it. A new one ends the user's sessions.
    #[schema(max_length = 256, pattern = r"^[^\u0000]*$")]
    pub external_id: Option<String>,
}

/// Changes a user's name, role, alarm-lead flag or active state (admin).
/// Needs `If-Match`. Deactivating or changing the role ends the user's sessions.
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"),
           ("If-Match" = String, Header, description = "ETag from GET")),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "Updated", body = User),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another user already signs in with this external identity", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since you read it", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<UserUpdate>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let expected = expected_version(&req)?;
    let id = id.into_inner().to_string();
    let UserUpdate {
        display_name,
        role,
        alarm_lead,
        active,
        external_id,
    } = body.into_inner();
    let mut p = Problems::default();
    let display_name = display_name.map(|d| p.text("display_name", &d, 100));
    p.finish()?;
    let target = id.clone();
    let edit = app::org::UserEdit {
        display_name,
        role,
        alarm_lead,
        active,
        external_id,
    };
    app::org::update_user(&state.db, user, target, expected, edit).await?;
    let updated = load_user(&state, id.parse().expect("uuid")).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(updated.version))
        .json(updated))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// At least 10 characters.
    #[schema(min_length = 10)]
    pub password: String,
}

/// Sets a user's password (admin reset). Ends all their sessions.
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Password set; sessions ended"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/users/{id}/password")]
pub async fn set_password(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<NewPassword>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut p = Problems::default();
    if let Err(why) = password::check_strength(&body.password) {
        p.add("password", "too_weak", why.en, why.sv);
    }
    p.finish()?;
    let id = id.into_inner().to_string();
    let new_password = body.into_inner().password;
    app::org::set_password(&state.db, user, id, new_password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of a user at once (admin): refresh tokens are revoked
/// and access tokens already issued stop working.
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Sessions ended"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/users/{id}/revoke-sessions")]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = id.into_inner().to_string();
    app::org::revoke_sessions(&state.db, user, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds a user to a group (admin). Idempotent.
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("group_id" = Uuid, Path, description = "Group id"), ("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "The user is a member"),
        (status = 404, description = "No such group or user", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/groups/{group_id}/members/{user_id}")]
pub async fn add_member(
    state: web::Data<AppState>,
    user: Actor,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let (group_id, user_id) = (path.0.to_string(), path.1.to_string());
    app::org::add_member(&state.db, user, group_id, user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a user from a group (admin).
#[utoipa::path(tag = "organisation", security(("bearer" = [])),
    params(("group_id" = Uuid, Path, description = "Group id"), ("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "The user is not a member of that group", body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/groups/{group_id}/members/{user_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    user: Actor,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let (group_id, user_id) = (path.0.to_string(), path.1.to_string());
    app::org::remove_member(&state.db, user, group_id, user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
