//! The SSRF guard for customer-supplied S3-compatible endpoints (MinIO, R2, ...): which
//! `https://host[:port]` the platform may call at all.
//!
//! The platform's Lambda calls a customer's endpoint during validation, from inside the platform's
//! network and with its credentials in the environment. An endpoint that resolves to loopback, a
//! private range, link-local or the cloud metadata service would let a customer make the platform
//! call its own neighbours (server-side request forgery), so this module owns the one decision:
//! every address the host resolves to must be public, and the scheme must be `https` (plain http
//! could be read or rewritten on the way). [`EndpointPolicy`] holds the exceptions config may
//! allow: the local dev server calls a MinIO on loopback over plain http for the demo.
//!
//! [`admit`] returns the addresses it checked; the caller connects to those and no others, so a
//! DNS answer that changes between the check and the call (DNS rebinding) changes nothing.
//!
//! Nothing here knows about HTTP statuses: a refusal is an [`EndpointRefused`] whose message is
//! meant for the admin as it is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use url::Host;

/// How long a name may take to resolve: validation runs on a budget, and a resolver that does not
/// answer must not hold it (the endpoint is then [`RefusalReason::Unresolvable`]).
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest host quoted in a message: a domain may be 253 bytes, and a message must stay short
/// enough to show in a report (~400 bytes at most).
const QUOTED_HOST_MAX: usize = 80;

/// What the platform may call besides public https endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointPolicy {
    /// Admit an endpoint whose addresses are all loopback, over http or https (the local dev
    /// server's MinIO). Never set in a deployed Lambda: there, loopback is the Lambda itself.
    pub allow_loopback_http: bool,
}

/// Why an endpoint may not be called: a sentence for the admin that names the host, what it
/// resolved to (if anything) and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EndpointRefused {
    pub message: String,
    pub reason: RefusalReason,
}

/// The kind of refusal, for callers that branch (the message is for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The endpoint is `http`: the platform only calls `https`.
    PlainHttp,
    /// The host is, or resolves to, an address that is not public (see [`non_public`]).
    NotPublic,
    /// The host did not resolve (no address, an error, or not within [`RESOLVE_TIMEOUT`]).
    Unresolvable,
}

/// The IPv4 classes that are not public. One list makes every label and the labels of the IPv6
/// forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4), so they cannot drift apart; the
/// labels are `&'static str` because [`non_public`] returns them.
macro_rules! v4_classes {
    ($($class:ident => $label:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum V4Class { $($class),* }

        impl V4Class {
            fn label(self) -> &'static str {
                match self { $(Self::$class => $label),* }
            }
            fn mapped(self) -> &'static str {
                match self { $(Self::$class => concat!("IPv4-mapped ", $label)),* }
            }
            fn nat64(self) -> &'static str {
                match self { $(Self::$class => concat!("NAT64 of ", $label)),* }
            }
            fn six_to_four(self) -> &'static str {
                match self { $(Self::$class => concat!("6to4 of ", $label)),* }
            }
        }
    };
}

v4_classes! {
    Metadata => "cloud metadata",
    Unspecified => "unspecified",
    ThisNetwork => "this-network",
    Loopback => "loopback",
    Private => "private",
    CarrierGradeNat => "carrier-grade NAT",
    LinkLocal => "link-local",
    Documentation => "documentation",
    Benchmarking => "benchmarking",
    Multicast => "multicast",
    Broadcast => "broadcast",
    Reserved => "reserved",
}

/// Why an IPv4 address is not public, or `None` when it is. The more specific class wins: the
/// metadata addresses are link-local too, but "cloud metadata" is what the admin must hear.
fn v4_class(ip: Ipv4Addr) -> Option<V4Class> {
    let class = match ip.octets() {
        // AWS's instance metadata (IMDS) and the ECS task metadata / credentials endpoint.
        [169, 254, 169, 254] | [169, 254, 170, 2] => V4Class::Metadata,
        [0, 0, 0, 0] => V4Class::Unspecified,
        // 0/8: on Linux a connect to 0.x.x.x reaches this host.
        [0, ..] => V4Class::ThisNetwork,
        [127, ..] => V4Class::Loopback,
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => V4Class::Private,
        [100, 64..=127, ..] => V4Class::CarrierGradeNat,
        [169, 254, ..] => V4Class::LinkLocal,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => V4Class::Documentation,
        [198, 18..=19, ..] => V4Class::Benchmarking,
        [224..=239, ..] => V4Class::Multicast,
        [255, 255, 255, 255] => V4Class::Broadcast,
        // 240/4 (future use), 192.0.0/24 (IETF protocol assignments, e.g. DS-Lite and NAT64
        // discovery), 192.88.99/24 (the retired 6to4 relay anycast).
        [240..=255, ..] | [192, 0, 0, _] | [192, 88, 99, _] => V4Class::Reserved,
        _ => return None,
    };
    Some(class)
}

/// Why an address is not public, or `None` when it is: "loopback", "private", "link-local",
/// "cloud metadata", "carrier-grade NAT", "unspecified", "multicast", "broadcast",
/// "documentation", "benchmarking", "reserved", "unique local", ...
///
/// An IPv6 address that carries an IPv4 address the network may route to (IPv4-mapped
/// `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by that IPv4 address
/// ("IPv4-mapped loopback", "NAT64 of private", ...). Outside the special ranges, IPv6 is public
/// only in global unicast (`2000::/3`): everything else is "reserved".
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4).map(V4Class::label),
        IpAddr::V6(v6) => v6_non_public(v6),
    }
}

fn v6_non_public(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // AWS's instance metadata over IPv6 (Nitro); it sits in fc00::/7, so it is checked first.
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some("cloud metadata");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // ::ffff:a.b.c.d: a socket given this address talks IPv4 to a.b.c.d.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4).map(V4Class::mapped);
    }
    // 64:ff9b::/96, the well-known NAT64 prefix: the translator forwards to the embedded address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_class(embedded(s[6], s[7])).map(V4Class::nat64);
    }
    // 2002:wwxx:yyzz::/48, 6to4: a relay forwards to the IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return v4_class(embedded(s[1], s[2])).map(V4Class::six_to_four);
    }
    let reason = match s[0] {
        // 64:ff9b:1::/48: NAT64 prefixes a network chose for itself (RFC 8215).
        0x64 if s[1] == 0xff9b && s[2] == 1 => "local-use NAT64",
        // 2001::/32: Teredo tunnels through IPv4 relays no one here controls.
        0x2001 if s[1] == 0 => "Teredo",
        0x2001 if s[1] == 2 && s[2] == 0 => "benchmarking",
        0x2001 if s[1] == 0x0db8 => "documentation",
        // 2001::/23: IETF protocol assignments (ORCHID, AMT, ...), no storage service.
        0x2001 if s[1] < 0x0200 => "reserved",
        // 3fff::/20 (RFC 9637).
        0x3fff if s[1] < 0x1000 => "documentation",
        _ if (s[0] & 0xfe00) == 0xfc00 => "unique local",
        _ if (s[0] & 0xffc0) == 0xfe80 => "link-local",
        // fec0::/10: site-local, deprecated but still routed inside some networks.
        _ if (s[0] & 0xffc0) == 0xfec0 => "site-local",
        _ if (s[0] & 0xff00) == 0xff00 => "multicast",
        // Global unicast is 2000::/3; the rest (::/96 IPv4-compatible, 100::/64 discard, ...) is
        // not a place for a public endpoint.
        _ if (s[0] & 0xe000) != 0x2000 => "reserved",
        _ => return None,
    };
    Some(reason)
}

/// Resolves `host` at `port` (bounded by [`RESOLVE_TIMEOUT`]) and admits it when every resolved
/// address is public and `https` is true; with `policy.allow_loopback_http`, an endpoint whose
/// addresses are all loopback is admitted over http or https. Returns the resolved socket
/// addresses: the caller connects to these only (pinning them defeats DNS rebinding).
///
/// Every address counts, not just the first: a name with one public and one private address
/// would otherwise reach the private one whenever the client tries it. The most serious reason is
/// named first: a host that does not resolve, then one that is not public (cloud metadata before
/// any other class), then plain http.
pub async fn admit(
    host: &Host<String>,
    port: u16,
    https: bool,
    policy: EndpointPolicy,
) -> Result<Vec<SocketAddr>, EndpointRefused> {
    let shown = quoted(host);
    let addrs = resolve(host, port).await.map_err(|why| EndpointRefused {
        message: format!(
            "The endpoint host {shown} could not be resolved ({why}), so the platform cannot call it. \
             Check the host name and that it is in public DNS{}.",
            if https {
                ""
            } else {
                "; note also that the endpoint must use https (the store must serve TLS)"
            }
        ),
        reason: RefusalReason::Unresolvable,
    })?;
    judge(host, addrs, https, policy)
}

/// [`admit`]'s decision over the addresses `host` resolved to (apart from the resolver, so the
/// tests can give a name several addresses).
fn judge(
    host: &Host<String>,
    addrs: Vec<SocketAddr>,
    https: bool,
    policy: EndpointPolicy,
) -> Result<Vec<SocketAddr>, EndpointRefused> {
    let shown = quoted(host);
    if policy.allow_loopback_http && addrs.iter().all(|a| a.ip().is_loopback()) {
        return Ok(addrs);
    }

    let refused = addrs
        .iter()
        .filter_map(|a| non_public(a.ip()).map(|why| (a.ip(), why)))
        .min_by_key(|&(_, why)| !why.ends_with("cloud metadata"));
    if let Some((ip, why)) = refused {
        let via = match host {
            Host::Domain(_) => format!(" resolves to {ip}, which"),
            Host::Ipv4(_) | Host::Ipv6(_) => String::new(),
        };
        return Err(EndpointRefused {
            message: format!(
                "The endpoint host {shown}{via} is not a public address ({why}): the platform only \
                 calls public addresses, so that no endpoint can point it at its own network. Use \
                 the public https address of the store."
            ),
            reason: RefusalReason::NotPublic,
        });
    }

    if !https {
        return Err(EndpointRefused {
            message: format!(
                "The endpoint {shown} uses plain http: the platform only calls https \
                 endpoints, so the store must serve TLS. Enable TLS on the store and change the \
                 endpoint to https://."
            ),
            reason: RefusalReason::PlainHttp,
        });
    }
    Ok(addrs)
}

/// The host's addresses at `port`: an IP literal as it is, a domain through the system resolver.
/// The error is a short phrase for the message.
async fn resolve(host: &Host<String>, port: u16) -> Result<Vec<SocketAddr>, &'static str> {
    let name = match host {
        Host::Ipv4(ip) => return Ok(vec![SocketAddr::new(IpAddr::V4(*ip), port)]),
        Host::Ipv6(ip) => return Ok(vec![SocketAddr::new(IpAddr::V6(*ip), port)]),
        Host::Domain(name) => name.as_str(),
    };
    let found = match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port))).await {
        Err(_) => return Err("no answer within 2 s"),
        Ok(Err(_)) => return Err("no such host"),
        Ok(Ok(found)) => found,
    };
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in found {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err("no address");
    }
    Ok(addrs)
}

/// The host in quotes, cut to [`QUOTED_HOST_MAX`] bytes (at a character boundary) so the message
/// stays short whatever the customer typed.
fn quoted(host: &Host<String>) -> String {
    let full = host.to_string();
    if full.len() <= QUOTED_HOST_MAX {
        return format!("\"{full}\"");
    }
    let mut end = QUOTED_HOST_MAX;
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    format!("\"{}...\"", &full[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK_HTTP: EndpointPolicy = EndpointPolicy { allow_loopback_http: true };

    /// The host and port of `endpoint` as the caller will hand them over (the url crate parses).
    fn parts(endpoint: &str) -> (Host<String>, u16, bool) {
        let url = url::Url::parse(endpoint).unwrap();
        let host = url.host().unwrap().to_owned();
        (host, url.port_or_known_default().unwrap(), url.scheme() == "https")
    }

    async fn admit_url(endpoint: &str, policy: EndpointPolicy) -> Result<Vec<SocketAddr>, EndpointRefused> {
        let (host, port, https) = parts(endpoint);
        admit(&host, port, https, policy).await
    }

    async fn refusal(endpoint: &str, policy: EndpointPolicy) -> EndpointRefused {
        match admit_url(endpoint, policy).await {
            Ok(addrs) => panic!("{endpoint} was admitted ({addrs:?})"),
            Err(refused) => refused,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_names_the_class_of_every_special_address_and_passes_public_ones() {
        let table: &[(&str, Option<&str>)] = &[
            // IPv4
            ("169.254.169.254", Some("cloud metadata")),
            ("169.254.170.2", Some("cloud metadata")),
            ("169.254.0.1", Some("link-local")),
            ("169.254.169.253", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("this-network")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("10.0.0.1", Some("private")),
            ("10.255.255.255", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.127.255.255", Some("carrier-grade NAT")),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("192.0.2.10", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.200", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.19.255.255", Some("benchmarking")),
            ("198.20.0.0", None),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("240.0.0.1", Some("reserved")),
            ("254.1.2.3", Some("reserved")),
            ("255.255.255.255", Some("broadcast")),
            ("192.0.0.8", Some("reserved")),
            ("192.88.99.1", Some("reserved")),
            ("93.184.215.14", None),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("52.216.0.1", None),
            // IPv6
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("fd00:ec2::254", Some("cloud metadata")),
            ("fd00:ec2::253", Some("unique local")),
            ("fc00::1", Some("unique local")),
            ("fdff:ffff::1", Some("unique local")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("3fff::1", Some("documentation")),
            ("2001:2::1", Some("benchmarking")),
            ("2001::1", Some("Teredo")),
            ("2001:10::1", Some("reserved")),
            ("100::1", Some("reserved")),
            ("::127.0.0.1", Some("reserved")),
            ("4000::1", Some("reserved")),
            ("::ffff:127.0.0.1", Some("IPv4-mapped loopback")),
            ("::ffff:10.0.0.1", Some("IPv4-mapped private")),
            ("::ffff:169.254.169.254", Some("IPv4-mapped cloud metadata")),
            ("::ffff:93.184.215.14", None),
            ("64:ff9b::10.0.0.1", Some("NAT64 of private")),
            ("64:ff9b::169.254.169.254", Some("NAT64 of cloud metadata")),
            ("64:ff9b::8.8.8.8", None),
            ("64:ff9b:1::1", Some("local-use NAT64")),
            ("2002:7f00:1::1", Some("6to4 of loopback")),
            ("2002:a9fe:a9fe::1", Some("6to4 of cloud metadata")),
            ("2002:0808:0808::1", None),
            ("2606:4700::1111", None),
            ("2a05:d018::1", None),
        ];
        for &(addr, expected) in table {
            assert_eq!(non_public(ip(addr)), expected, "{addr}");
        }
    }

    #[tokio::test]
    async fn metadata_over_plain_http_is_refused_for_the_metadata_first() {
        let refused = refusal("http://169.254.169.254", EndpointPolicy::default()).await;
        assert_eq!(refused.reason, RefusalReason::NotPublic);
        assert!(refused.message.contains("\"169.254.169.254\""), "{}", refused.message);
        assert!(refused.message.contains("cloud metadata"), "{}", refused.message);
    }

    #[tokio::test]
    async fn a_private_ip_over_https_is_refused_as_private() {
        let refused = refusal("https://10.0.0.1", EndpointPolicy::default()).await;
        assert_eq!(refused.reason, RefusalReason::NotPublic);
        assert!(
            refused.message.contains("\"10.0.0.1\" is not a public address (private)"),
            "{}",
            refused.message
        );
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_unless_loopback_is_allowed() {
        let refused = refusal("https://localhost:9000", EndpointPolicy::default()).await;
        assert_eq!(refused.reason, RefusalReason::NotPublic);
        assert!(refused.message.contains("\"localhost\" resolves to 127.0.0.1"), "{}", refused.message);
        assert!(refused.message.contains("loopback"), "{}", refused.message);

        let addrs = admit_url("http://localhost:9000", LOOPBACK_HTTP).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 9000), "{addrs:?}");
    }

    #[tokio::test]
    async fn loopback_literals_are_admitted_over_http_or_https_when_allowed() {
        for endpoint in ["http://127.0.0.1:9000", "https://127.0.0.1:9000", "http://[::1]:9000"] {
            let addrs = admit_url(endpoint, LOOPBACK_HTTP).await.unwrap();
            assert_eq!(addrs.len(), 1, "{endpoint}");
            assert!(addrs[0].ip().is_loopback(), "{endpoint}");
        }
    }

    #[tokio::test]
    async fn allowing_loopback_admits_nothing_else_that_is_not_public() {
        for endpoint in ["http://10.0.0.1:9000", "http://169.254.169.254", "http://[::ffff:127.0.0.1]:9000"] {
            assert_eq!(refusal(endpoint, LOOPBACK_HTTP).await.reason, RefusalReason::NotPublic, "{endpoint}");
        }
    }

    #[tokio::test]
    async fn allowing_loopback_does_not_admit_plain_http_to_a_public_host() {
        let refused = refusal("http://93.184.215.14", LOOPBACK_HTTP).await;
        assert_eq!(refused.reason, RefusalReason::PlainHttp);
    }

    #[tokio::test]
    async fn a_public_ip_over_https_is_admitted_at_its_port() {
        let addrs = admit_url("https://93.184.215.14", EndpointPolicy::default()).await.unwrap();
        assert_eq!(addrs, vec![SocketAddr::new(ip("93.184.215.14"), 443)]);
        let addrs = admit_url("https://[2606:4700::1111]:9443", EndpointPolicy::default()).await.unwrap();
        assert_eq!(addrs, vec![SocketAddr::new(ip("2606:4700::1111"), 9443)]);
    }

    #[tokio::test]
    async fn a_public_ip_over_plain_http_is_refused_because_the_store_must_serve_tls() {
        let refused = refusal("http://93.184.215.14:9000", EndpointPolicy::default()).await;
        assert_eq!(refused.reason, RefusalReason::PlainHttp);
        assert!(refused.message.contains("\"93.184.215.14\""), "{}", refused.message);
        assert!(refused.message.contains("only calls https endpoints"), "{}", refused.message);
        assert!(refused.message.contains("serve TLS"), "{}", refused.message);
    }

    #[tokio::test]
    async fn ipv6_literals_that_are_not_public_are_refused_with_their_class() {
        let cases = [
            ("https://[::1]", "loopback"),
            ("https://[fe80::1]", "link-local"),
            ("https://[fd00:ec2::254]", "cloud metadata"),
            ("https://[::ffff:127.0.0.1]", "IPv4-mapped loopback"),
            ("https://[::ffff:10.0.0.1]", "IPv4-mapped private"),
            ("https://[64:ff9b::a9fe:a9fe]", "NAT64 of cloud metadata"),
        ];
        for (endpoint, class) in cases {
            let refused = refusal(endpoint, EndpointPolicy::default()).await;
            assert_eq!(refused.reason, RefusalReason::NotPublic, "{endpoint}");
            assert!(
                refused.message.contains(&format!("not a public address ({class})")),
                "{endpoint}: {}",
                refused.message
            );
            assert!(refused.message.contains("\"["), "{endpoint}: {}", refused.message);
        }
    }

    fn domain(name: &str) -> Host<String> {
        Host::Domain(name.to_owned())
    }

    fn at_443(ips: &[&str]) -> Vec<SocketAddr> {
        ips.iter().map(|s| SocketAddr::new(ip(s), 443)).collect()
    }

    #[test]
    fn a_name_with_one_private_address_among_public_ones_is_refused() {
        let refused =
            judge(&domain("store.example.com"), at_443(&["93.184.215.14", "10.1.2.3"]), true, LOOPBACK_HTTP)
                .unwrap_err();
        assert_eq!(refused.reason, RefusalReason::NotPublic);
        assert!(refused.message.contains("resolves to 10.1.2.3, which is not a public address (private)"));
    }

    #[test]
    fn the_metadata_address_is_named_before_other_addresses_that_are_not_public() {
        let addrs = at_443(&["10.1.2.3", "127.0.0.1", "::ffff:169.254.169.254", "93.184.215.14"]);
        let refused =
            judge(&domain("store.example.com"), addrs, false, EndpointPolicy::default()).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::NotPublic);
        assert!(refused.message.contains("(IPv4-mapped cloud metadata)"), "{}", refused.message);
    }

    #[test]
    fn a_name_is_admitted_as_loopback_only_when_all_its_addresses_are_loopback() {
        let addrs = at_443(&["127.0.0.1", "::1"]);
        assert_eq!(judge(&domain("localhost"), addrs.clone(), false, LOOPBACK_HTTP), Ok(addrs));

        let mixed = at_443(&["127.0.0.1", "93.184.215.14"]);
        let refused = judge(&domain("localhost"), mixed, false, LOOPBACK_HTTP).unwrap_err();
        assert_eq!(refused.reason, RefusalReason::NotPublic);
    }

    #[test]
    fn a_name_whose_addresses_are_all_public_is_admitted_over_https_with_all_of_them() {
        let addrs = at_443(&["93.184.215.14", "2606:4700::1111"]);
        assert_eq!(
            judge(&domain("store.example.com"), addrs.clone(), true, EndpointPolicy::default()),
            Ok(addrs)
        );
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_unresolvable() {
        let refused = refusal("https://does-not-exist.invalid", EndpointPolicy::default()).await;
        assert_eq!(refused.reason, RefusalReason::Unresolvable);
        assert!(refused.message.contains("\"does-not-exist.invalid\""), "{}", refused.message);
        assert!(!refused.message.contains("https"), "{}", refused.message);

        let refused = refusal("http://does-not-exist.invalid", EndpointPolicy::default()).await;
        assert_eq!(refused.reason, RefusalReason::Unresolvable);
        assert!(refused.message.contains("must use https"), "{}", refused.message);
    }

    #[tokio::test]
    async fn messages_stay_short_whatever_the_host() {
        let long = format!("{}.invalid", ["a".repeat(63), "b".repeat(63), "c".repeat(63)].join("."));
        let refusals = [
            refusal(&format!("http://{long}"), EndpointPolicy::default()).await,
            refusal("http://[::ffff:169.254.169.254]:65535", EndpointPolicy::default()).await,
            refusal("http://93.184.215.14:65535", EndpointPolicy::default()).await,
        ];
        for refused in refusals {
            assert!(refused.message.len() <= 400, "{} bytes: {}", refused.message.len(), refused.message);
            assert_eq!(refused.to_string(), refused.message);
        }
    }

    #[test]
    fn quoting_cuts_a_long_host_at_a_character_boundary() {
        let host = Host::Domain(format!("{}é{}", "a".repeat(QUOTED_HOST_MAX - 1), "b".repeat(10)));
        let shown = quoted(&host);
        assert_eq!(shown, format!("\"{}...\"", "a".repeat(QUOTED_HOST_MAX - 1)));
    }
}
