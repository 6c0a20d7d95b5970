//! The field PWA, embedded in the binary at build time, and the API docs.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;
use utoipa_swagger_ui::{Config, SwaggerUi};

#[derive(RustEmbed)]
#[folder = "pwa/"]
struct Pwa;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/docs")
            // Swagger UI sets inline styles; the rest of the site does not get this.
            .wrap(actix_web::middleware::DefaultHeaders::new().add((
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            )))
            .service(SwaggerUi::new("/{_:.*}").config(Config::new(["/api/v1/openapi.json"]))),
    )
    .route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/docs/"))
                .finish()
        }),
    );
}

/// The apps' files, and their shell for any other path outside the API.
pub async fn serve_pwa(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") {
        return actix_web::ResponseError::error_response(&crate::error::AppError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            crate::error::ErrorCode::RouteNotFound,
            "There is no such endpoint. See /api/v1/openapi.json for the ones that exist.",
            "Den adressen finns inte. Se /api/v1/openapi.json för de som finns.",
        ));
    }
    let path = req.path().trim_start_matches('/');
    // A folder's address serves its index (the desk lives at /desk/).
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    };
    let path = path.as_str();
    let (name, file) = match Pwa::get(path) {
        Some(f) => (path, f),
        // Client-side routes fall back to the shell.
        None => match Pwa::get("index.html") {
            Some(f) => ("index.html", f),
            None => return HttpResponse::NotFound().finish(),
        },
    };
    let build = build_version();
    // The shell and the service worker name the build, so a new build reaches
    // phones on their next load and they fetch assets under the new version.
    let stamped = name == "index.html" || name == "sw.js";
    let etag = if stamped {
        format!("\"{build}\"")
    } else {
        format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]))
    };
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    let versioned = req.query_string() == format!("v={build}");
    let cache = if stamped || name.ends_with(".webmanifest") {
        "no-cache"
    } else if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600, must-revalidate"
    };
    let body = if stamped {
        String::from_utf8_lossy(&file.data)
            .replace("__BUILD__", build)
            .into_bytes()
    } else {
        file.data.into_owned()
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, mime.to_string()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag));
    if name == "sw.js" {
        // The worker controls the whole site, not only the folder it sits in.
        resp.insert_header(("Service-Worker-Allowed", "/"));
    }
    resp.body(body)
}

/// One version for everything embedded: the first 12 hex digits of a hash over
/// every file's name and content hash. Changes whenever any file does.
fn build_version() -> &'static str {
    static BUILD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILD.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut names: Vec<_> = Pwa::iter().collect();
        names.sort();
        let mut hasher = Sha256::new();
        for name in names {
            if let Some(file) = Pwa::get(&name) {
                hasher.update(name.as_bytes());
                hasher.update(file.metadata.sha256_hash());
            }
        }
        hex::encode(&hasher.finalize()[..6])
    })
}
