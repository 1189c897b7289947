//! Files the pages need, served from the binary (no CDN, no build step):
//! htmx (templates/web/static/htmx.min.js, 0BSD) and the style sheet.

use super::routes::{Routes, get};
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::assets::TEMPLATES;

pub fn routes() -> Routes {
    Routes::new().route("/static/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    let file = (!name.contains('/') && !name.contains(".."))
        .then(|| TEMPLATES.get_file(format!("web/static/{name}")))
        .flatten();
    let Some(file) = file else {
        return (StatusCode::NOT_FOUND, "Datei nicht gefunden").into_response();
    };
    let kind = match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        file.contents(),
    )
        .into_response()
}
