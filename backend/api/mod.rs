//! HTTP only: routes, DTOs, the OpenAPI document. Handlers parse into domain
//! types, call `db`, and answer.

pub mod audit;
pub mod auth;
pub mod concurrency;
pub mod customers;
pub mod decisions;
pub mod documents;
pub mod dto;
pub mod equipment;
pub mod executions;
pub mod export;
pub mod health;
pub mod import;
pub mod json;
pub mod keys;
pub mod lifecycle;
pub mod messages;
pub mod orders;
pub mod org;
pub mod outbox;
pub mod pagination;
pub mod query;
pub mod reports;
pub mod scim;
pub mod webhooks_doc;

use crate::error::ErrorCode;
use crate::error::{AppError, FieldError, Problem};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::Required;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Larmkoll API",
        description = "Safety alarms (trygghetslarm), digital locks and customers' keys, from the assessor's decision to the day the equipment comes back.\n\nEvery error is `application/problem+json` (RFC 9457) with a stable `code`, its title in English and Swedish (`title`, `title_sv`) and a message in English (`detail`) and Swedish (`detail_sv`). Every POST accepts an `Idempotency-Key` header; writes to an existing record need `If-Match` with the ETag you read.",
    ),
    servers((url = "/", description = "The server that serves this document")),
    components(schemas(Problem, FieldError)),
    modifiers(&SecurityAndErrors),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, token refresh, logout"),
        (name = "organisation", description = "Areas, groups, users (admin)"),
        (name = "customers", description = "Customers (brukare): personal data, always access-checked and audited"),
        (name = "audit", description = "Who read or changed what (logguppföljning)"),
        (name = "lifecycle", description = "Decisions, orders and their transitions, executions"),
        (name = "billing", description = "Billing start and stop for the billing officers"),
        (name = "keys", description = "The key register: where each customer's key is, every move recorded"),
        (name = "equipment", description = "Alarm units, buttons, locks and receipt products: catalogue and custody"),
        (name = "documents", description = "Photographed, signed papers kept as proof"),
        (name = "reports", description = "Reports for the desk, as JSON or CSV"),
        (name = "messages", description = "The inbox: messages the routines send at each transition"),
        (name = "webhooks", description = "Events Larmkoll POSTs to the admin's subscriptions, signed as Standard Webhooks says (see `webhooks`)"),
        (name = "mail", description = "Mail and webhooks (admin): group mailboxes, users' mail topics, webhook subscriptions, the outbox"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme and the error responses every operation shares, so
/// no handler can forget them.
struct SecurityAndErrors;

const COMMON: &[(&str, &str)] = &[
    ("400", "Malformed request: a body that is not JSON at all (`malformed_json`), a bad header or parameter."),
    ("500", "Unexpected server error; logged with a request id."),
    ("503", "The database is unreachable; nothing was changed."),
];
const SECURED: &[(&str, &str)] = &[
    ("401", "Missing, invalid or expired access token."),
    ("403", "Your role may not do this."),
];
const WITH_BODY: &[(&str, &str)] = &[
    ("413", "The request body is too large."),
    ("415", "The body must be `application/json`."),
    (
        "422",
        "The body is valid JSON but a value is wrong: `invalid_body` (a wrong type, an unknown value or field) or `validation_failed`; `errors` names each field, in English and Swedish.",
    ),
];

impl Modify for SecurityAndErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        describe_error_codes(components);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
        for (status, description) in COMMON.iter().chain(SECURED).chain(WITH_BODY) {
            components.responses.insert(
                format!("E{status}"),
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .into(),
            );
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if let Some(post) = item
                .post
                .as_mut()
                .filter(|_| !path.starts_with("/api/v1/auth/"))
            {
                add_idempotency_key(post);
            }
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_errors(op);
                add_precondition_errors(op);
                // `[{}]` (anonymous allowed) makes openapi-python-client demand a
                // token for login; `[]` says plainly that none is needed.
                if is_public(op) {
                    op.security = Some(Vec::new());
                }
            }
        }
    }
}

/// The `ErrorCode` schema says what each code means, as `title` and
/// `title_sv` will, so a client's developer need not provoke each one.
fn describe_error_codes(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::{RefOr, Schema};
    let Some(RefOr::T(Schema::Object(schema))) = components.schemas.get_mut("ErrorCode") else {
        return;
    };
    let mut text = schema
        .description
        .take()
        .unwrap_or_default()
        .replace('\n', " ");
    text.push_str(" Each with its `title` and `title_sv`:\n");
    for code in ErrorCode::ALL {
        text.push_str(&format!(
            "\n- `{}`: {} ({})",
            code.as_str(),
            code.title(),
            code.title_sv()
        ));
    }
    schema.description = Some(text);
}

/// Every POST (but login, refresh and logout) honours `Idempotency-Key`.
fn add_idempotency_key(op: &mut Operation) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    if params.iter().any(|p| p.name == "Idempotency-Key") {
        return;
    }
    params.push(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Client-chosen id of this action (a UUID). Resending the same key and body replays the first \
                 successful response instead of acting twice; the same key with another body gets 422.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[!-~]{1,200}$"))))
            .build(),
    );
    op.responses.responses.entry("409".into()).or_insert_with(|| {
        problem_response("The first request with this Idempotency-Key is still being handled; retry shortly.")
    });
    op.responses
        .responses
        .entry("422".into())
        .or_insert_with(|| {
            problem_response("This Idempotency-Key was already used for a different request.")
        });
}

/// A write that takes `If-Match` answers 412 to a stale one and 428 without one.
fn add_precondition_errors(op: &mut Operation) {
    let mut takes_if_match = false;
    for p in op.parameters.iter_mut().flatten() {
        if p.name == "If-Match" && p.parameter_in == ParameterIn::Header {
            takes_if_match = true;
            // The ETag as `concurrency::expected_version` reads it.
            p.schema = Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r#"^(W/)?"[0-9]{1,9}"$"#))
                    .into(),
            );
        }
    }
    if !takes_if_match {
        return;
    }
    for (status, description) in [
        (
            "412",
            "Changed since you read it: `If-Match` is not the current version.",
        ),
        ("428", "`If-Match` is missing."),
    ] {
        op.responses
            .responses
            .entry(status.into())
            .or_insert_with(|| problem_response(description));
    }
}

fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .into()
}

/// Declared `security(())`: no token needed.
fn is_public(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|s| {
        s.iter().all(|r| {
            serde_json::to_value(r)
                .map(|v| v == serde_json::json!({}))
                .unwrap_or(false)
        })
    })
}

fn add_errors(op: &mut Operation) {
    let mut sets: Vec<&[(&str, &str)]> = vec![COMMON];
    if !is_public(op) {
        sets.push(SECURED);
    }
    if op.request_body.is_some() {
        sets.push(WITH_BODY);
    }
    for (status, _) in sets.into_iter().flatten() {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| Ref::new(format!("#/components/responses/E{status}")).into());
    }
}

/// The document as served and committed: the operations registered by
/// [`configure`], each described at its handler, plus what every operation
/// shares ([`SecurityAndErrors`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(mount)
        .split_for_parts();
    SecurityAndErrors.modify(&mut doc);
    doc
}

/// [`openapi`], built once: the served JSON and the 405 table read it.
fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::LazyLock<utoipa::openapi::OpenApi> = std::sync::LazyLock::new(openapi);
    &DOC
}

/// [`openapi`] as JSON, built once.
pub fn openapi_json() -> &'static str {
    static JSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        // With the `webhooks` section, which utoipa 5 has no type for.
        let mut doc = serde_json::to_value(document()).expect("OpenAPI serialises");
        doc["webhooks"] = webhooks_doc::section();
        let mut json = serde_json::to_string_pretty(&doc).expect("JSON serialises");
        json.push('\n');
        json
    });
    &JSON
}

/// Everything the server answers besides the apps and the docs: the health
/// checks and the API, the same way for serving and for the document.
pub fn mount(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(
            utoipa_actix_web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(crate::http::idempotency))
                .configure(configure)
                .default_service(actix_web::web::to(unrouted)),
        );
}

/// Every operation under `/api/v1`. Each is declared once, at its handler
/// (`#[utoipa::path]` over the route attribute); registering it here both
/// serves it and puts it in the OpenAPI document. Within a module, a literal
/// segment is registered before a `{id}` that would also match it.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.route("/openapi.json", actix_web::web::get().to(serve_openapi))
        .configure(auth::routes)
        .configure(org::routes)
        .configure(customers::routes)
        .configure(audit::routes)
        .configure(decisions::routes)
        .configure(lifecycle::routes)
        .configure(orders::routes)
        .configure(executions::routes)
        .configure(messages::routes)
        .configure(keys::routes)
        .configure(equipment::routes)
        .configure(import::routes)
        .configure(reports::routes)
        .configure(documents::routes)
        .configure(outbox::routes);
}

/// The document itself; not an operation of its own in it.
async fn serve_openapi() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_json())
}

/// Request-body errors become problem+json with the right status.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let e = match &err {
        JsonPayloadError::ContentType => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send the body as JSON with `Content-Type: application/json`.",
            "Skicka kroppen som JSON med `Content-Type: application/json`.",
        ),
        JsonPayloadError::Overflow { limit } => AppError::payload_too_large(Some(*limit)),
        JsonPayloadError::OverflowKnownLength { limit, .. } => AppError::payload_too_large(Some(*limit)),
        // Only `web::Json` gets here with a shape error; `json::Json` tells those itself.
        JsonPayloadError::Deserialize(de) if de.is_data() => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidBody,
            format!("The JSON does not match the expected shape: {de}."),
            "Uppgifterna har inte den form som väntas här. Rätta dem och skicka igen; inget har ändrats.",
        ),
        JsonPayloadError::Deserialize(de) => AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedJson,
            format!("The body is not valid JSON: {de}."),
            format!(
                "Innehållet går inte att läsa: det är trasigt eller avbrutet (felet finns på rad {}, tecken {}). Skicka igen; inget har ändrats.",
                de.line(),
                de.column()
            ),
        ),
        _ => AppError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnreadableBody,
            "The request body could not be read.",
            "Begärans innehåll kunde inte läsas.",
        ),
    };
    e.into()
}

/// 413, naming the limit when it is known.
pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    AppError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidPathParameter,
        format!("A value in the URL path is not valid: {err}. Ids are UUIDs."),
        "Ett värde i adressen är ogiltigt. Id:n skrivs som UUID, till exempel \
         3f2a6c1e-8b0d-4e5f-9a7b-1c2d3e4f5a6b; kontrollera adressen och försök igen.",
    )
    .into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    AppError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidQueryParameter,
        format!("A query parameter is not valid: {err}."),
        "En parameter efter ? i adressen har ett ogiltigt värde. Kontrollera den och \
         försök igen; inget har ändrats.",
    )
    .into()
}

/// A request no operation took: 405 with `Allow` when the path is one the
/// document lists (under another method), else 404. The router cannot tell
/// these apart itself, since each operation is its own resource.
pub async fn unrouted(req: HttpRequest) -> Result<actix_web::HttpResponse, AppError> {
    if let Some(allow) = allowed_methods(req.path()) {
        return Ok(actix_web::HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, allow))
            .finish());
    }
    Err(AppError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::RouteNotFound,
        "There is no such endpoint. See /api/v1/openapi.json for the ones that exist.",
        "Den adressen finns inte. Se /api/v1/openapi.json för de som finns.",
    ))
}

/// The methods the document lists for the path template `path` matches, as
/// an `Allow` value, or `None` when it matches none.
pub fn allowed_methods(path: &str) -> Option<String> {
    static TABLE: std::sync::LazyLock<Vec<(Vec<String>, String)>> =
        std::sync::LazyLock::new(|| {
            document()
                .paths
                .paths
                .iter()
                .map(|(template, item)| {
                    let methods = [
                        ("GET", item.get.is_some()),
                        ("PUT", item.put.is_some()),
                        ("POST", item.post.is_some()),
                        ("DELETE", item.delete.is_some()),
                        ("PATCH", item.patch.is_some()),
                    ];
                    let allow: Vec<&str> = methods.iter().filter(|m| m.1).map(|m| m.0).collect();
                    (
                        template.split('/').map(str::to_string).collect(),
                        allow.join(", "),
                    )
                })
                .collect()
        });
    let segments: Vec<&str> = path.split('/').collect();
    TABLE.iter().find_map(|(template, allow)| {
        let matches = template.len() == segments.len()
            && template
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s);
        matches.then(|| allow.clone())
    })
}

/// A file as the request body: binary, at least one byte (an empty body is
/// refused with 422 `required`).
pub(crate) fn file_bytes(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .min_length(Some(1))
        .description(Some(description))
        .into()
}

#[cfg(test)]
mod tests {
    /// utoipa names a schema after its type and keeps the last of two with
    /// one name: an answer is then checked against the other type's schema
    /// (the lifecycle's `Transition` once shadowed the order history's).
    #[test]
    fn no_two_schemas_share_a_name() {
        fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path.display().to_string(), text));
                }
            }
        }
        let mut files = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("backend");
        sources(&root, &mut files);
        let mut seen = std::collections::HashMap::new();
        let mut clashes = Vec::new();
        for (path, text) in &files {
            let mut derives_schema = false;
            for line in text.lines().map(str::trim) {
                if line.starts_with("#[derive(") {
                    derives_schema = line.contains("ToSchema");
                } else if derives_schema && !line.starts_with("#[") && !line.starts_with("///") {
                    let name = ["pub struct ", "pub enum "]
                        .iter()
                        .find_map(|k| line.strip_prefix(k))
                        .and_then(|rest| rest.split([' ', '{', '(', '<']).next());
                    if let Some(name) = name {
                        if let Some(first) = seen.insert(name.to_string(), path.clone()) {
                            clashes.push(format!("{name}: {first} and {path}"));
                        }
                    }
                    derives_schema = false;
                }
            }
        }
        assert!(!seen.is_empty());
        assert!(clashes.is_empty(), "schemas with one name: {clashes:?}");
    }
}
