//! What every answer carries against hostile clients and pages: a handler that panics answers a
//! 500 JSON error instead of dropping the connection, JSON bodies are read only when they say they
//! are JSON, and browsers get a Content Security Policy and the related headers.

use super::error::ApiError;
use super::web::Basemap;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::any::Any;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// The media types a JSON body may be sent as (parameters such as `; charset=utf-8` allowed).
pub const JSON_MEDIA_TYPES: [&str; 2] = ["application/json", "application/geo+json"];

/// Refuses a body that does not say it is JSON, with 415 `unsupported_media_type`.
///
/// An HTML form on any web site can post `application/x-www-form-urlencoded`, `multipart/form-data`
/// or `text/plain` to us without a CORS preflight, and the browser sends the user's cookies and
/// credentials along; `application/json` needs a preflight, which we do not grant to other origins.
/// So a body is read as JSON only when its `Content-Type` says so.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers.get(header::CONTENT_TYPE);
    let essence = given
        .and_then(|v| v.to_str().ok())
        .map(|t| t.split(';').next().unwrap_or_default().trim());
    if essence.is_some_and(|e| JSON_MEDIA_TYPES.iter().any(|m| e.eq_ignore_ascii_case(m))) {
        return Ok(());
    }
    let said = match given {
        None => "no Content-Type".to_string(),
        Some(v) => {
            let text = String::from_utf8_lossy(v.as_bytes());
            let shown: String = text.chars().take(80).collect();
            format!("Content-Type {shown:?}")
        }
    };
    Err(ApiError::UnsupportedMediaType(format!(
        "the body must be JSON sent with Content-Type: application/json (or application/geo+json); \
         this request has {said}"
    )))
}

/// The answer to a panic in a handler: 500 `internal` in the usual envelope; the panic's message
/// goes to the log (as the `internal error` event), not to the client.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    };
    ApiError::Internal(format!("a request handler panicked: {message}")).into_response()
}

/// The origin (`https://host[:port]`) of the basemap's tile template, as a CSP source; a host
/// with a template placeholder in it (`https://t{s}.example.com/…`) cannot be named exactly, so
/// its scheme alone (`https:`) is allowed then.
fn basemap_source(basemap: &Basemap) -> String {
    let (scheme, rest) = basemap.url.split_once("://").unwrap_or(("https", ""));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    if authority.is_empty()
        || !authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        format!("{scheme}:")
    } else {
        format!("{scheme}://{authority}")
    }
}

/// The Content-Security-Policy of every answer: only this server's own scripts, styles and data,
/// plus the configured basemap's origin for its tiles, and inline scripts only by hash (the page's
/// import map, see [`inline_script_hashes`]).
///
/// MapLibre needs `worker-src blob:` (it starts its workers from a blob URL when its script is
/// not same-origin) and `img-src data: blob:` (decoded tiles and icons); `frame-ancestors 'none'`
/// keeps the map out of other sites' frames (click-jacking of the editing tools).
pub fn content_security_policy(basemap: Option<&Basemap>, script_hashes: &[String]) -> String {
    let basemap = basemap
        .map(|b| format!(" {}", basemap_source(b)))
        .unwrap_or_default();
    let scripts: String = script_hashes.iter().map(|h| format!(" '{h}'")).collect();
    format!(
        "default-src 'self'; script-src 'self'{scripts}; style-src 'self'; \
         img-src 'self' data: blob:{basemap}; connect-src 'self'{basemap}; \
         worker-src 'self' blob:; child-src 'self' blob:; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The CSP hashes (`sha256-…`) of the inline `<script>` elements of a page (those without `src`),
/// so that the page's import map runs and no other inline script does.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body = &rest[tag_end + 1..];
        let Some(close) = body.find("</script") else {
            break;
        };
        if !tag.contains(" src=") {
            let digest = Sha256::digest(&body.as_bytes()[..close]);
            hashes.push(format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &body[close..];
    }
    hashes
}

/// Adds the catch-panic layer and the browser headers to the whole router.
///
/// `Referrer-Policy: strict-origin-when-cross-origin` rather than `no-referrer`: basemap providers
/// (Tianditu, AMap) check a browser key against the `Referer`'s site, which `no-referrer` would
/// hide; this policy sends them the origin only, never a page's path or query.
pub fn harden<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    basemap: Option<&Basemap>,
) -> Router<S> {
    let csp = HeaderValue::from_str(&content_security_policy(basemap, &[]))
        .expect("the policy is ASCII without control characters");
    router
        .layer(CatchPanicLayer::custom(panic_response))
        // The page sets its own policy (with its import map's hash); everything else gets this.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        // For browsers that predate `frame-ancestors`.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::web::BasemapCrs;
    use axum::http::StatusCode;

    fn with_type(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn only_json_media_types_pass() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/geo+json",
        ] {
            assert!(require_json(&with_type(Some(ok))).is_ok(), "{ok}");
        }
        for bad in [
            None,
            Some("application/x-www-form-urlencoded"),
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            Some("application/json-seq"),
            Some(""),
        ] {
            let response = require_json(&with_type(bad)).unwrap_err().into_response();
            assert_eq!(
                response.status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_policy_names_the_basemap_origin_only() {
        let basemap = Basemap::new(
            "https://t0.tianditu.gov.cn:8443/vec_w/wmts?tk=SECRET&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
            BasemapCrs::Wgs84,
            None,
        )
        .unwrap();
        let csp = content_security_policy(Some(&basemap), &[]);
        assert!(
            csp.contains("connect-src 'self' https://t0.tianditu.gov.cn:8443;"),
            "{csp}"
        );
        assert!(!csp.contains("SECRET"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let odd = Basemap::new(
            "http://t{s}.example.com/{z}/{x}/{y}.png",
            BasemapCrs::Wgs84,
            None,
        )
        .unwrap();
        assert!(content_security_policy(Some(&odd), &[]).contains("connect-src 'self' http:;"));
        assert!(!content_security_policy(None, &[]).contains("http"));
    }

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html = r#"<script type="importmap">{"imports": {}}</script>
<script type="module" src="/src/main.js"></script>"#;
        let hashes = inline_script_hashes(html);
        let expected =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(br#"{"imports": {}}"#));
        assert_eq!(hashes, vec![format!("sha256-{expected}")]);
    }

    #[test]
    fn a_panic_is_a_json_500_without_its_message() {
        let response = panic_response(Box::new("index out of bounds: secret detail"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = panic_response(Box::new(String::from("owned message")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
