//! The portal's static assets, embedded in the binary: one stylesheet and one
//! script. Their URLs carry the crate version, so that a browser may cache them
//! for a day and still picks up a new build's.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../assets/portal.css");
const JS: &str = include_str!("../assets/portal.js");

/// Where the stylesheet is served.
pub const CSS_PATH: &str = concat!("/assets/portal-", env!("CARGO_PKG_VERSION"), ".css");
/// Where the script is served.
pub const JS_PATH: &str = concat!("/assets/portal-", env!("CARGO_PKG_VERSION"), ".js");

/// Serves an embedded asset by file name.
pub async fn serve(Path(file): Path<String>) -> Response {
    let path = format!("/assets/{file}");
    let (body, kind) = if path == CSS_PATH {
        (CSS, "text/css; charset=utf-8")
    } else if path == JS_PATH {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}
