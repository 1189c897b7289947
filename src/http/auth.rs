//! Who is asking: one middleware resolves the caller once per request (a
//! bearer token or the session cookie) and enforces the CSRF rule; handlers
//! take [`ApiCaller`] (401 problem without login) or [`WebCaller`] (redirect
//! to the login page), or an extractor of `super::extract` built on them
//! (office staff, a municipality, a visible case).
//!
//! CSRF: a cross-site page can make a browser send, with its cookies, only
//! "simple" requests: a POST with a form body (urlencoded, multipart,
//! text/plain) or none. Every such POST authenticated by cookie must carry
//! the session's token, as the form field `csrf` (also in a multipart
//! form's body, never in the URL, where logs and referrers would keep it)
//! or the header `X-CSRF-Token`; without it the answer is 403. The login
//! form is the exception: it has its own double-submit token, so a person
//! can log in as someone else while a session exists (which ends it). Other unsafe requests (a
//! JSON body, DELETE) need a CORS preflight, which this server never grants,
//! and requests with `Authorization: Bearer` carry no ambient credential.
//! The login form, before any session exists, uses a double-submit cookie.
//!
//! The client's address (for the login limit) is the TCP peer, unless the
//! peer is one of `[web] trusted_proxies`: then the `Forwarded` or
//! `X-Forwarded-For` header names it, read from the right past the trusted
//! hops, so a client cannot choose its own address by sending the header.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use super::HttpState;
use super::error::Problem;
use crate::identity::User;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "amtspost_session";
/// The pre-login CSRF cookie's name (double submit on the login form).
pub const LOGIN_CSRF_COOKIE: &str = "amtspost_login_csrf";
/// Largest form body the CSRF check reads.
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A login session; forms must carry its CSRF token.
    Session { id: String, csrf_token: String },
    /// `Authorization: Bearer TOKEN`.
    Token,
}

/// The client's address, as [`client_ip`] finds it.
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<HttpState> for ClientIp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Response> {
        let axum::extract::ConnectInfo(peer) =
            axum::extract::ConnectInfo::<super::ClientAddr>::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        Ok(ClientIp(client_ip(
            peer.ip(),
            &parts.headers,
            &state.app.config().web.trusted_proxies,
        )))
    }
}

/// The client behind `peer`: the peer itself unless it is a trusted proxy;
/// then the right-most address in `Forwarded` (or, without it,
/// `X-Forwarded-For`) that is not a trusted proxy. An entry that is no
/// address (`unknown`, an obfuscated name) ends the walk at the hop that
/// added it.
pub fn client_ip(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let values = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let forwarded: Vec<String> = values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| v.trim().trim_matches('"').to_string())
            })
        })
        .collect();
    let hops = if forwarded.is_empty() {
        values("x-forwarded-for")
    } else {
        forwarded
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An address from a forwarding header: `192.0.2.1`, `192.0.2.1:80`,
/// `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<std::net::IpAddr> {
    hop.parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.split(']').next())
                .and_then(|h| h.parse().ok())
        })
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
}

impl Caller {
    /// The CSRF token to put into forms (empty for token callers).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf_token, .. } => csrf_token,
            Via::Token => "",
        }
    }
}

/// Resolves the caller and checks CSRF; puts `Option<Caller>` into the
/// request's extensions.
pub async fn middleware(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    normalize_media_type(&mut parts);
    let caller = match resolve(&state, &parts).await {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let needs_token = parts.method == Method::POST
        && parts.uri.path() != "/login"
        && matches!(
            caller,
            Some(Caller {
                via: Via::Session { .. },
                ..
            })
        )
        && is_simple_content_type(&parts);
    let body = if needs_token {
        let expected = caller
            .as_ref()
            .map(|c| c.csrf().to_string())
            .unwrap_or_default();
        let limit = FORM_LIMIT.max(
            usize::try_from(state.app.config().web.upload_limit_mb)
                .unwrap_or(usize::MAX / (2 << 20))
                .saturating_mul(1 << 20)
                .saturating_add(1 << 20),
        );
        match check_csrf(&parts, body, &expected, limit).await {
            Ok(body) => body,
            Err(p) => return p.into_response(),
        }
    } else {
        body
    };
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

async fn resolve(state: &HttpState, parts: &Parts) -> Result<Option<Caller>, Problem> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Problem::unauthorized().detail("Authorization: Bearer TOKEN erwartet.")
            })?;
        let Some(user) = state.identity.by_token(token).await? else {
            return Err(
                Problem::unauthorized().detail("Das API-Token ist ungültig oder widerrufen.")
            );
        };
        return Ok(Some(Caller {
            user,
            via: Via::Token,
        }));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(id) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    Ok(state.identity.session(&id).await?.map(|s| Caller {
        user: s.user,
        via: Via::Session {
            id,
            csrf_token: s.csrf_token,
        },
    }))
}

/// Writes the media type of `Content-Type` in lower case, as the extractors
/// compare it (RFC 9110 § 8.3.1: it is case-insensitive); parameters such as
/// a multipart boundary keep their case.
fn normalize_media_type(parts: &mut Parts) {
    let Some(ct) = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let (media, rest) = ct.split_once(';').map_or((ct, None), |(m, r)| (m, Some(r)));
    if media.bytes().any(|b| b.is_ascii_uppercase()) {
        let fixed = match rest {
            Some(r) => format!("{};{r}", media.to_ascii_lowercase()),
            None => media.to_ascii_lowercase(),
        };
        if let Ok(v) = fixed.parse() {
            parts.headers.insert(header::CONTENT_TYPE, v);
        }
    }
}

/// True for bodies a cross-site form can send: none, urlencoded,
/// multipart, text/plain.
fn is_simple_content_type(parts: &Parts) -> bool {
    match parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/x-www-form-urlencoded")
                || ct.starts_with("multipart/form-data")
                || ct.starts_with("text/plain")
        }
    }
}

/// Checks the header or the `csrf` form field (urlencoded or multipart,
/// read from a body of at most `limit` bytes) against `expected`, giving
/// back the body for the handler.
async fn check_csrf(
    parts: &Parts,
    body: Body,
    expected: &str,
    limit: usize,
) -> Result<Body, Problem> {
    let refused = || {
        Problem::forbidden(
            "Das Formular ist abgelaufen oder stammt nicht von dieser Anwendung (CSRF-Token fehlt oder passt nicht). Bitte laden Sie die Seite neu.",
        )
    };
    let matches = |t: &str| !expected.is_empty() && t.as_bytes() == expected.as_bytes();
    if let Some(h) = parts.headers.get("x-csrf-token") {
        return if h.to_str().is_ok_and(matches) {
            Ok(body)
        } else {
            Err(refused())
        };
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let media = content_type.to_ascii_lowercase();
    let too_large = || {
        Problem::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "Inhalt zu groß")
            .detail("Das Formular ist zu groß.")
    };
    if media.starts_with("multipart/form-data") {
        let bytes = to_bytes(body, limit).await.map_err(|_| too_large())?;
        return match multipart_field(&content_type, bytes.clone(), "csrf").await {
            Some(t) if matches(&t) => Ok(Body::from(bytes)),
            _ => Err(refused()),
        };
    }
    if !media.starts_with("application/x-www-form-urlencoded") {
        // No body, or text/plain: nothing can carry the token.
        return Err(refused());
    }
    let bytes = to_bytes(body, FORM_LIMIT).await.map_err(|_| too_large())?;
    let ok = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .is_some_and(|(_, v)| matches(&v));
    if ok {
        Ok(Body::from(bytes))
    } else {
        Err(refused())
    }
}

/// The text of the first field `name` of a multipart body (a form puts its
/// hidden token before the file, so the file is not read through).
async fn multipart_field(
    content_type: &str,
    bytes: axum::body::Bytes,
    name: &str,
) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut mp = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = mp.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

/// A logged-in caller of the API: 401 problem otherwise.
#[derive(Clone)]
pub struct ApiCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        match parts.extensions.get::<Option<Caller>>() {
            Some(Some(c)) => Ok(ApiCaller(c.clone())),
            _ => Err(Problem::unauthorized()),
        }
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for ApiCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Option<Caller>>()
            .cloned()
            .flatten()
            .map(ApiCaller))
    }
}

/// A logged-in caller of a web page: a redirect to the login page otherwise.
pub struct WebCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for WebCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<Option<Caller>>() {
            Some(Some(c)) => Ok(WebCaller(c.clone())),
            _ => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = format!(
                    "/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_it_sends() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=198.51.100.1"),
        ]);
        assert_eq!(client_ip(ip("192.0.2.7"), &h, &[]), ip("192.0.2.7"));
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("192.0.2.7"), &h, &trusted), ip("192.0.2.7"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_read_from_the_right() {
        let trusted: Vec<ipnet::IpNet> =
            vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        // The client put a fake address first; the proxy appended the real one.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.9"));
        // Two trusted hops in a row are skipped.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.9"));
        // Forwarded wins over X-Forwarded-For, with ports, quotes and IPv6.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            (
                "forwarded",
                "for=192.0.2.60;proto=http, For=\"[2001:db8:cafe::17]:4711\"",
            ),
        ]);
        assert_eq!(
            client_ip(ip("fd00::1"), &h, &trusted),
            ip("2001:db8:cafe::17")
        );
        let h = headers(&[("forwarded", "for=198.51.100.3:8080")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("198.51.100.3"));
        // No header, or an entry that is no address: the last known hop.
        assert_eq!(
            client_ip(ip("10.0.0.5"), &HeaderMap::new(), &trusted),
            ip("10.0.0.5")
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.5"));
    }
}
