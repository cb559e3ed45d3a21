//! Who is calling and how they reached us: the client's address and the service's own base URL.
//!
//! The client address is the TCP peer of the connection. Behind a reverse proxy every peer is
//! the proxy, so the proxy's address can be named with `--trust-proxy` (`WANGGE_TRUST_PROXY`):
//! only for a request whose peer is one of those addresses do `X-Forwarded-For`,
//! `X-Forwarded-Host` and `X-Forwarded-Proto` count. From anyone else they are ignored, because
//! any client can send them: trusting them would let a password guesser pretend to be a new
//! address on every try, and let a page make our absolute links (TileJSON, OGC API) point at
//! another host.

use super::AppState;
use super::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The reverse proxies whose `X-Forwarded-*` headers are believed (`--trust-proxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpAddr>);

impl TrustedProxies {
    fn trusts(&self, peer: IpAddr) -> bool {
        self.0.contains(&canonical(peer))
    }

    /// The client address of a request that came from `peer` with `headers`.
    ///
    /// From a trusted proxy, the rightmost `X-Forwarded-For` entry that is not itself a trusted
    /// proxy: entries further left were written by the client and prove nothing.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use axum::http::{HeaderMap, HeaderValue};
    /// use wangge::http::client::TrustedProxies;
    /// let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7"));
    /// let trusted = TrustedProxies(vec![proxy]);
    /// assert_eq!(trusted.client(proxy, &headers), "203.0.113.7".parse::<IpAddr>().unwrap());
    /// // Anyone else's X-Forwarded-For is ignored.
    /// let other: IpAddr = "198.51.100.9".parse().unwrap();
    /// assert_eq!(trusted.client(other, &headers), other);
    /// ```
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for entry in entries.iter().rev() {
            match parse_forwarded_ip(entry) {
                Some(ip) if self.trusts(ip) => continue,
                Some(ip) => return canonical(ip),
                // Garbage where an address should be: believe nothing further left.
                None => break,
            }
        }
        peer
    }
}

/// An address as `X-Forwarded-For` may write it: `203.0.113.7`, `203.0.113.7:5000`, `::1` or
/// `[::1]:5000`.
fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// An IPv4 address that reached an IPv6 socket (`::ffff:1.2.3.4`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The TCP peer of the request. A router served without connect info (in-process tests) has
/// none; all its clients then share the unspecified address.
fn peer(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        })
}

/// The address of the client of a request (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(ClientAddr(
            state.trusted_proxies.client(peer(parts), &parts.headers),
        ))
    }
}

/// `scheme://host` of this service as the client reached it, for absolute links; empty when
/// the request names no usable host (links are then absolute paths).
///
/// The host is the `Host` header and the scheme `http`; a trusted proxy's `X-Forwarded-Host`
/// and `X-Forwarded-Proto` replace them (the last value, which that proxy wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    /// The base URL from `headers` of a request whose peer `trusted` says to believe or not.
    pub fn from_headers(headers: &HeaderMap, forwarded_trusted: bool) -> BaseUrl {
        let last = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|v| !v.is_empty())
        };
        let forwarded = |name: &str| if forwarded_trusted { last(name) } else { None };
        let host = forwarded("x-forwarded-host").or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        });
        // Only host-name characters: the value ends up in links other clients follow.
        let host = host.filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        });
        let scheme = match forwarded("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        BaseUrl(host.map_or_else(String::new, |h| format!("{scheme}://{h}")))
    }

    /// The base URL, or 400 `missing_host` where absolute links are a must (TileJSON).
    pub fn required(self) -> Result<String, ApiError> {
        if self.0.is_empty() {
            Err(ApiError::bad_request(
                "missing_host",
                "the request has no usable Host header",
            ))
        } else {
            Ok(self.0)
        }
    }
}

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let trusted = state.trusted_proxies.trusts(peer(parts));
        Ok(BaseUrl::from_headers(&parts.headers, trusted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies(vec![ip("10.0.0.1"), ip("10.0.0.2")]);
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.7, 10.0.0.2"),
        ]);
        // Through two trusted proxies: the address before them.
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        assert_eq!(trusted.client(ip("192.0.2.1"), &h), ip("192.0.2.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
        // No header, or garbage in it: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        let garbage = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &garbage), ip("10.0.0.1"));
        let ported = headers(&[("x-forwarded-for", "[2001:db8::5]:443")]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &ported), ip("2001:db8::5"));
        // A trusted proxy reached over IPv6 as a mapped IPv4 address is still itself.
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.1"), &ported),
            ip("2001:db8::5")
        );
    }

    #[test]
    fn forwarded_host_and_proto_count_only_when_trusted() {
        let h = headers(&[
            ("host", "example.org:8080"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            BaseUrl::from_headers(&h, false).0,
            "http://example.org:8080"
        );
        assert_eq!(BaseUrl::from_headers(&h, true).0, "https://evil.example");
        let bad = headers(&[("host", "evil\"host")]);
        assert_eq!(BaseUrl::from_headers(&bad, false).0, "");
        assert!(BaseUrl::from_headers(&bad, false).required().is_err());
        assert!(
            BaseUrl::from_headers(&HeaderMap::new(), true)
                .required()
                .is_err()
        );
    }
}
