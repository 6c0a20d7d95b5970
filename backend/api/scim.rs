//! SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2`: the municipality's identity
//! provider creates, changes and switches off users, and sets who is in which
//! group. Open only with `LARMKOLL_SCIM_TOKEN` set, to a bearer of that token.
//! Larmkoll's groups belong to an area and have a kind, so the provider maps
//! onto existing groups rather than creating them.

use crate::app::provisioning::{self, Changes, Described, GroupRow, Members, UserFilter, UserRow};
use crate::auth::RequestContext;
use crate::domain::Role;
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde_json::{json, Value};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const CONTENT_TYPE: &str = "application/scim+json";
/// The most resources one list answers (`itemsPerPage` never exceeds it).
const MAX_RESULTS: usize = 200;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2")
            .route(
                "/ServiceProviderConfig",
                web::get().to(service_provider_config),
            )
            .route("/ResourceTypes", web::get().to(resource_types))
            .route("/Users", web::get().to(list_users))
            .route("/Users", web::post().to(create_user))
            .route("/Users/{id}", web::get().to(get_user))
            .route("/Users/{id}", web::put().to(replace_user))
            .route("/Users/{id}", web::patch().to(patch_user))
            .route("/Users/{id}", web::delete().to(delete_user))
            .route("/Groups", web::get().to(list_groups))
            .route("/Groups", web::post().to(create_group))
            .route("/Groups/{id}", web::get().to(get_group))
            .route("/Groups/{id}", web::put().to(replace_group))
            .route("/Groups/{id}", web::patch().to(patch_group))
            .default_service(web::to(no_such_resource)),
    );
}

/// A SCIM error (RFC 7644 §3.12), with Larmkoll's Swedish detail beside it.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
    detail_sv: String,
}

impl ScimError {
    fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        en: impl Into<String>,
        sv: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: en.into(),
            detail_sv: sv.into(),
        }
    }

    fn invalid(en: impl Into<String>, sv: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), en, sv)
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
            "detail_sv": self.detail_sv,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\""));
        }
        res.content_type(CONTENT_TYPE).body(body.to_string())
    }
}

impl From<AppError> for ScimError {
    fn from(e: AppError) -> Self {
        if e.status().is_server_error() {
            tracing::error!(error = ?e, "SCIM request failed");
        }
        let p = e.to_problem();
        let scim_type = match (p.status, p.errors.first().map(|f| f.code.as_str())) {
            (409, _) => Some("uniqueness"),
            (_, Some("immutable")) => Some("mutability"),
            (400 | 422, _) => Some("invalidValue"),
            _ => None,
        };
        let status = match p.status {
            422 => StatusCode::BAD_REQUEST,
            s => StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        Self::new(status, scim_type, p.detail, p.detail_sv)
    }
}

type Scim = Result<HttpResponse, ScimError>;

/// Only the provider, with the configured token; without one, there is no SCIM here.
fn authorize(req: &HttpRequest, state: &AppState) -> Result<RequestContext, ScimError> {
    let Some(expected) = state.settings.scim_token.as_deref() else {
        return Err(ScimError::new(
            StatusCode::NOT_FOUND,
            None,
            "SCIM provisioning is not switched on: set LARMKOLL_SCIM_TOKEN.",
            "Användarförsörjning med SCIM är inte påslagen: ange LARMKOLL_SCIM_TOKEN.",
        ));
    };
    let given = crate::auth::bearer_token(req).unwrap_or_default();
    // The token creates users.
    if !crate::auth::same_secret(&given, expected) {
        return Err(ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Send the SCIM token as `Authorization: Bearer …`.",
            "Skicka SCIM-token som `Authorization: Bearer …`.",
        ));
    }
    Ok(crate::auth::request_context(req))
}

fn scim(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(CONTENT_TYPE)
        .body(body.to_string())
}

fn base(state: &AppState) -> String {
    format!("{}/scim/v2", state.settings.public_url())
}

fn user_resource(state: &AppState, (u, groups): (UserRow, Vec<GroupRow>)) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": u.id,
        "externalId": u.external_id,
        "userName": u.username,
        "displayName": u.display_name,
        "name": {"formatted": u.display_name},
        "active": u.active,
        "roles": [{"value": u.role.as_str(), "display": u.role.sv(), "primary": true}],
        "groups": groups.iter().map(|g| json!({
            "value": g.id,
            "display": g.name,
            "$ref": format!("{}/Groups/{}", base(state), g.id),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "User",
            "created": u.created_at.and_utc().to_rfc3339(),
            "lastModified": u.updated_at.and_utc().to_rfc3339(),
            "version": format!("W/\"{}\"", u.version),
            "location": format!("{}/Users/{}", base(state), u.id),
        },
    })
}

fn group_resource(state: &AppState, (g, members): (GroupRow, Vec<UserRow>)) -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": g.id,
        "displayName": g.name,
        "members": members.iter().map(|u| json!({
            "value": u.id,
            "display": u.username,
            "$ref": format!("{}/Users/{}", base(state), u.id),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Group",
            "created": g.created_at.and_utc().to_rfc3339(),
            "location": format!("{}/Groups/{}", base(state), g.id),
        },
    })
}

/// A page of resources (`startIndex` is 1-based).
fn list(resources: Vec<Value>, query: &ListQuery) -> HttpResponse {
    let total = resources.len();
    let start = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
    let page: Vec<Value> = resources.into_iter().skip(start - 1).take(count).collect();
    scim(
        StatusCode::OK,
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }),
    )
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    filter: Option<String>,
    start_index: Option<usize>,
    count: Option<usize>,
}

/// `attribute eq "value"`, the one filter providers send to find a match.
fn equality_filter(filter: &str) -> Result<(String, String), ScimError> {
    let refuse = || {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
            format!("Only `attribute eq \"value\"` filters are supported, not {filter:?}."),
            format!("Bara filter av formen `attribut eq \"värde\"` stöds, inte {filter:?}."),
        )
    };
    let mut parts = filter.trim().splitn(3, ' ');
    let (Some(attr), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refuse());
    };
    if !op.eq_ignore_ascii_case("eq") {
        return Err(refuse());
    }
    let value = value.trim();
    let value: String = serde_json::from_str(value).map_err(|_| refuse())?;
    Ok((attr.to_string(), value))
}

/// A filter on an attribute the list cannot be filtered by.
fn filter_on(attr: &str, which_en: &str, which_sv: &str) -> ScimError {
    ScimError::new(
        StatusCode::BAD_REQUEST,
        Some("invalidFilter"),
        format!("{which_en}, not {attr}."),
        format!("{which_sv}, inte {attr}."),
    )
}

fn json_body(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|e| {
        ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("The body is not valid JSON: {e}."),
            format!("Innehållet är inte giltig JSON: {e}."),
        )
    })
}

fn role_of(value: &Value) -> Result<Option<Role>, ScimError> {
    let roles = match value {
        Value::Array(items) => items.clone(),
        Value::Null => return Ok(None),
        other => vec![other.clone()],
    };
    let chosen = roles
        .iter()
        .find(|r| r["primary"] == json!(true))
        .or_else(|| roles.first());
    let Some(chosen) = chosen else {
        return Ok(None);
    };
    let text = chosen["value"]
        .as_str()
        .or_else(|| chosen.as_str())
        .unwrap_or_default();
    Role::parse(text).map(Some).ok_or_else(|| {
        ScimError::invalid(
            format!("roles: {text:?} is not a Larmkoll role (installer, coordinator, assessor, care_staff, billing, alarm_center, admin)."),
            format!("roles: {text:?} är ingen roll i Larmkoll (installer, coordinator, assessor, care_staff, billing, alarm_center, admin)."),
        )
    })
}

/// `true`, or the string `"True"` some providers send.
fn boolean(value: &Value, field: &str) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid(
            format!("{field} must be true or false."),
            format!("{field} ska vara true eller false."),
        )),
    }
}

fn text(value: &Value, field: &str) -> Result<String, ScimError> {
    value.as_str().map(str::to_string).ok_or_else(|| {
        ScimError::invalid(
            format!("{field} must be a string."),
            format!("{field} ska vara en textsträng."),
        )
    })
}

/// A User resource as the provider sends it on create and replace.
fn described(body: &Value) -> Result<Described, ScimError> {
    let username = text(&body["userName"], "userName")?;
    let display_name = body["displayName"]
        .as_str()
        .or_else(|| body["name"]["formatted"].as_str())
        .map(str::to_string)
        .or_else(|| {
            let given = body["name"]["givenName"].as_str()?;
            let family = body["name"]["familyName"].as_str().unwrap_or_default();
            Some(format!("{given} {family}").trim().to_string())
        })
        .unwrap_or_else(|| username.clone());
    Ok(Described {
        username,
        display_name,
        external_id: body["externalId"].as_str().map(str::to_string),
        role: role_of(&body["roles"])?,
        active: match &body["active"] {
            Value::Null => true,
            v => boolean(v, "active")?,
        },
    })
}

async fn service_provider_config(req: HttpRequest, state: web::Data<AppState>) -> Scim {
    authorize(&req, &state)?;
    Ok(scim(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": format!("{}/docs/", state.settings.public_url()),
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The token set in LARMKOLL_SCIM_TOKEN",
            }],
        }),
    ))
}

async fn resource_types(req: HttpRequest, state: web::Data<AppState>) -> Scim {
    authorize(&req, &state)?;
    let types = vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User", "endpoint": "/Users", "schema": USER_SCHEMA}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group", "endpoint": "/Groups", "schema": GROUP_SCHEMA}),
    ];
    Ok(list(
        types,
        &ListQuery {
            filter: None,
            start_index: None,
            count: None,
        },
    ))
}

async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Scim {
    authorize(&req, &state)?;
    let filter = match &query.filter {
        None => UserFilter::All,
        Some(f) => match equality_filter(f)? {
            (attr, v) if attr.eq_ignore_ascii_case("userName") => UserFilter::UserName(v),
            (attr, v) if attr.eq_ignore_ascii_case("externalId") => UserFilter::ExternalId(v),
            (attr, _) => {
                return Err(filter_on(
                    &attr,
                    "Users can be filtered by userName or externalId",
                    "Användare kan filtreras på userName eller externalId",
                ))
            }
        },
    };
    let found = provisioning::users(&state.db, filter).await?;
    let resources = found
        .into_iter()
        .map(|u| user_resource(&state, u))
        .collect();
    Ok(list(resources, &query))
}

async fn get_user(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> Scim {
    authorize(&req, &state)?;
    let found = provisioning::user(&state.db, id.into_inner()).await?;
    Ok(scim(StatusCode::OK, user_resource(&state, found)))
}

async fn create_user(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Scim {
    let ctx = authorize(&req, &state)?;
    let new = described(&json_body(&body)?)?;
    let created = provisioning::create(&state.db, ctx, new).await?;
    let resource = user_resource(&state, created);
    let location = resource["meta"]["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut res = scim(StatusCode::CREATED, resource);
    res.headers_mut().insert(
        header::LOCATION,
        header::HeaderValue::from_str(&location).expect("an URL is a header value"),
    );
    Ok(res)
}

async fn replace_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Scim {
    let ctx = authorize(&req, &state)?;
    let given = described(&json_body(&body)?)?;
    let changes = Changes {
        username: Some(given.username),
        display_name: Some(given.display_name),
        // A replace without externalId removes it: the user can then no longer sign in there.
        external_id: Some(given.external_id.unwrap_or_default()),
        role: given.role,
        active: Some(given.active),
    };
    let changed = provisioning::change(&state.db, ctx, id.into_inner(), changes).await?;
    Ok(scim(StatusCode::OK, user_resource(&state, changed)))
}

/// Applies one attribute of a patch to the changes.
fn patch_attribute(
    changes: &mut Changes,
    path: &str,
    value: &Value,
    remove: bool,
) -> Result<(), ScimError> {
    match path.to_ascii_lowercase().as_str() {
        "active" => {
            changes.active = Some(if remove {
                false
            } else {
                boolean(value, "active")?
            })
        }
        "displayname" | "name.formatted" if !remove => {
            changes.display_name = Some(text(value, "displayName")?);
        }
        "externalid" => {
            changes.external_id = Some(if remove {
                String::new()
            } else {
                text(value, "externalId")?
            })
        }
        "username" if !remove => changes.username = Some(text(value, "userName")?),
        "roles" if !remove => changes.role = role_of(value)?,
        // A name, user name or role cannot be removed: Larmkoll keeps the one it has.
        // Attributes Larmkoll keeps no copy of (e-mail, phone, title, …) are accepted and ignored.
        _ => {}
    }
    Ok(())
}

fn operations(body: &Value) -> Result<Vec<(String, Option<String>, Value)>, ScimError> {
    let ops = body["Operations"].as_array().ok_or_else(|| {
        ScimError::invalid(
            format!("A PATCH body has `schemas: [\"{PATCH_SCHEMA}\"]` and a list `Operations`."),
            format!("En PATCH har `schemas: [\"{PATCH_SCHEMA}\"]` och en lista `Operations`."),
        )
    })?;
    ops.iter()
        .map(|op| {
            let name = op["op"].as_str().unwrap_or_default().to_ascii_lowercase();
            if !matches!(name.as_str(), "add" | "replace" | "remove") {
                return Err(ScimError::invalid(
                    format!("op must be add, replace or remove, not {:?}.", op["op"]),
                    format!(
                        "op ska vara add, replace eller remove, inte {:?}.",
                        op["op"]
                    ),
                ));
            }
            Ok((
                name,
                op["path"].as_str().map(str::to_string),
                op["value"].clone(),
            ))
        })
        .collect()
}

async fn patch_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Scim {
    let ctx = authorize(&req, &state)?;
    let mut changes = Changes::default();
    for (op, path, value) in operations(&json_body(&body)?)? {
        let remove = op == "remove";
        match path {
            Some(path) => patch_attribute(&mut changes, &path, &value, remove)?,
            // No path: the value is an object of attributes.
            None => {
                let attrs = value.as_object().cloned().unwrap_or_default();
                for (k, v) in attrs {
                    patch_attribute(&mut changes, &k, &v, remove)?;
                }
            }
        }
    }
    let changed = provisioning::change(&state.db, ctx, id.into_inner(), changes).await?;
    Ok(scim(StatusCode::OK, user_resource(&state, changed)))
}

/// Users are never deleted (the audit log and custody name them): a DELETE switches the user off.
async fn delete_user(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> Scim {
    let ctx = authorize(&req, &state)?;
    let changes = Changes {
        active: Some(false),
        ..Changes::default()
    };
    provisioning::change(&state.db, ctx, id.into_inner(), changes).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Scim {
    authorize(&req, &state)?;
    let name = match &query.filter {
        None => None,
        Some(f) => match equality_filter(f)? {
            (attr, v) if attr.eq_ignore_ascii_case("displayName") => Some(v),
            (attr, _) => {
                return Err(filter_on(
                    &attr,
                    "Groups can be filtered by displayName",
                    "Grupper kan filtreras på displayName",
                ))
            }
        },
    };
    let found = provisioning::groups(&state.db, name).await?;
    let resources = found
        .into_iter()
        .map(|g| group_resource(&state, g))
        .collect();
    Ok(list(resources, &query))
}

async fn get_group(req: HttpRequest, state: web::Data<AppState>, id: web::Path<String>) -> Scim {
    authorize(&req, &state)?;
    let found = provisioning::group(&state.db, id.into_inner()).await?;
    Ok(scim(StatusCode::OK, group_resource(&state, found)))
}

async fn create_group(req: HttpRequest, state: web::Data<AppState>) -> Scim {
    authorize(&req, &state)?;
    Err(ScimError::new(
        StatusCode::CONFLICT,
        Some("uniqueness"),
        "Larmkoll's groups belong to an area and have a kind, so they are created in Larmkoll (admin). Map the provider's group to an existing one by displayName.",
        "Larmkolls grupper hör till ett område och har en typ, så de läggs upp i Larmkoll (admin). Koppla leverantörens grupp till en befintlig via displayName.",
    ))
}

fn member_ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn replace_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Scim {
    let ctx = authorize(&req, &state)?;
    let body = json_body(&body)?;
    let members = Members::Replace(member_ids(&body["members"]));
    let changed = provisioning::change_members(&state.db, ctx, id.into_inner(), members).await?;
    Ok(scim(StatusCode::OK, group_resource(&state, changed)))
}

async fn patch_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Scim {
    let ctx = authorize(&req, &state)?;
    let (mut add, mut remove, mut replace) = (Vec::new(), Vec::new(), None);
    for (op, path, value) in operations(&json_body(&body)?)? {
        let path = path.unwrap_or_default();
        // `members[value eq "<id>"]`: one member named in the path.
        let named = path
            .strip_prefix("members[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|f| equality_filter(f).ok())
            .map(|(_, v)| v);
        match (op.as_str(), path.as_str(), named) {
            ("remove", _, Some(id)) => remove.push(id),
            ("remove", "members", None) => remove.extend(member_ids(&value)),
            ("add", "members", None) => add.extend(member_ids(&value)),
            ("replace", "members", None) => replace = Some(member_ids(&value)),
            // A rename or anything but members: Larmkoll's group names are its own.
            _ => {}
        }
    }
    let members = match replace {
        Some(all) => Members::Replace(all),
        None => Members::Change { add, remove },
    };
    let changed = provisioning::change_members(&state.db, ctx, id.into_inner(), members).await?;
    Ok(scim(StatusCode::OK, group_resource(&state, changed)))
}

async fn no_such_resource(req: HttpRequest, state: web::Data<AppState>) -> Scim {
    authorize(&req, &state)?;
    Err(ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        "No such SCIM resource: Users, Groups, ServiceProviderConfig and ResourceTypes are here.",
        "Ingen sådan SCIM-resurs: här finns Users, Groups, ServiceProviderConfig och ResourceTypes.",
    ))
}
