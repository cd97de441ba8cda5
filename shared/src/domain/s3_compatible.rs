//! S3-compatible stores (MinIO, Cloudflare R2, Oracle Object Storage, Hitachi HCP, ...): where they
//! are (the endpoint), how requests address a bucket there, the region they sign for, and their
//! access keys. The secret access key is a secret from the moment it is parsed: its `Debug` is
//! redacted, it has no `Serialize`, and what is stored is only its sealed form ([`SealedSecret`]).
//!
//! The endpoint is customer-controlled, so parsing keeps it to `scheme://host[:port]`: no path,
//! query, fragment or credentials can ride along into a URL the platform calls or signs. Whether
//! the platform may *call* it (its host resolves to a public address; `https`) is decided where
//! the network is, in `crate::aws::endpoint_guard`.

use crate::domain::input::{quoted, InputError, InputErrorKind};
use crate::domain::presign::{CustomEndpoint, S3Endpoint};
use std::fmt;

/// An S3-compatible store's endpoint, normalised to `scheme://host[:port]` (lowercase host, no
/// default port, no trailing slash).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreEndpoint {
    url: String,
    host: url::Host<String>,
    port: u16,
    https: bool,
    /// The same endpoint as the presigner addresses it (path style; the integration picks).
    path_style: S3Endpoint,
    virtual_style: S3Endpoint,
}

fn invalid_endpoint(value: &str, why: &str) -> InputError {
    InputError::new(
        InputErrorKind::InvalidEndpoint,
        format!(
            "{} is not a usable endpoint: {why}. Give the store's S3 API address as https://host or \
             https://host:port, such as \"https://minio.example.com:9000\" or \
             \"https://<account>.r2.cloudflarestorage.com\".",
            quoted(value)
        ),
    )
}

impl StoreEndpoint {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let raw = value.trim();
        if raw.len() > 512 {
            return Err(invalid_endpoint(value, "it is longer than 512 characters"));
        }
        let url =
            url::Url::parse(raw).map_err(|e| invalid_endpoint(value, &format!("it is not a URL ({e})")))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(invalid_endpoint(value, &format!("the scheme {other:?} is not https"))),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid_endpoint(
                value,
                "it carries credentials (user:password@); send the keys in their own fields",
            ));
        }
        if url.path() != "/" && !url.path().is_empty() {
            return Err(invalid_endpoint(value, "it has a path; the endpoint is the host (and port) only"));
        }
        if url.query().is_some() || url.fragment().is_some() || raw.contains(['?', '#']) {
            return Err(invalid_endpoint(
                value,
                "it has a query or fragment; the endpoint is the host (and port) only",
            ));
        }
        let host =
            url.host().map(|h| h.to_owned()).ok_or_else(|| invalid_endpoint(value, "it has no host"))?;
        if let url::Host::Domain(domain) = &host {
            if !domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                || domain.starts_with('.')
            {
                return Err(invalid_endpoint(
                    value,
                    "the host name may use only letters, digits, '-' and '.'",
                ));
            }
        }
        let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        let mut normal = format!("{}://{host}", url.scheme());
        if let Some(explicit) = url.port() {
            normal.push_str(&format!(":{explicit}"));
        }
        let custom = |virtual_hosted| {
            CustomEndpoint::parse(&normal, virtual_hosted)
                .map(S3Endpoint::Custom)
                .map_err(|why| invalid_endpoint(value, &why))
        };
        Ok(Self { path_style: custom(false)?, virtual_style: custom(true)?, url: normal, host, port, https })
    }

    /// `scheme://host[:port]`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> &url::Host<String> {
        &self.host
    }

    /// The port requests go to (443 or 80 when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Where presigned URLs for this store point, in the integration's addressing style.
    pub fn for_presign(&self, style: AddressingStyle) -> &S3Endpoint {
        match style {
            AddressingStyle::Path => &self.path_style,
            AddressingStyle::Virtual => &self.virtual_style,
        }
    }
}

impl fmt::Display for StoreEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl fmt::Debug for StoreEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreEndpoint({})", self.url)
    }
}

/// How requests name the bucket: in the path (`https://host/bucket/key`, what most stores
/// accept) or in the host (`https://bucket.host/key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressingStyle {
    Path,
    Virtual,
}

impl AddressingStyle {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "path" => Ok(Self::Path),
            "virtual" => Ok(Self::Virtual),
            other => Err(format!(
                "Addressing style {} is not known; use \"path\" (https://host/bucket/key, the default) or \
                 \"virtual\" (https://bucket.host/key).",
                quoted(other)
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Virtual => "virtual",
        }
    }
}

/// The region a store signs for. Stores name regions their own way (`auto` on R2,
/// `us-ashburn-1` on Oracle), so any short lowercase name is accepted; it goes into the SigV4
/// credential scope only, never into a host name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StoreRegion(String);

pub const DEFAULT_STORE_REGION: &str = "us-east-1";

impl StoreRegion {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let region = value.trim();
        if region.is_empty()
            || region.len() > 64
            || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(InputError::new(
                InputErrorKind::InvalidStoreRegion,
                format!(
                    "{} is not a region name: use the region your store signs for, in lowercase letters, digits \
                     and '-' (at most 64), such as \"us-east-1\" (MinIO's default) or \"auto\" (Cloudflare R2).",
                    quoted(value)
                ),
            ));
        }
        Ok(Self(region.to_owned()))
    }

    pub fn default_region() -> Self {
        Self(DEFAULT_STORE_REGION.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StoreRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreRegion({})", self.0)
    }
}

/// An access key ID: printable ASCII, no spaces, 3 to 128 characters (MinIO's own bounds are
/// the widest of the stores).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccessKeyId(String);

fn printable(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_graphic())
}

impl AccessKeyId {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let key = value.trim();
        if !(3..=128).contains(&key.len()) || !printable(key) {
            return Err(InputError::new(
                InputErrorKind::InvalidAccessKey,
                format!(
                    "{} is not an access key ID: it must be 3 to 128 printable characters without spaces. Copy it \
                     from the store's console where the key was created.",
                    quoted(value)
                ),
            ));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKeyId({})", self.0)
    }
}

/// A secret access key in plain text: only between the request body and the sealer, and between
/// the opener and the signer. Never shown: its `Debug` is redacted and no error quotes it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    /// 8 to 128 printable characters. The rejection never repeats the value.
    pub fn parse(value: &str) -> Result<Self, InputError> {
        if !(8..=128).contains(&value.len()) || !printable(value) {
            return Err(InputError::new(
                InputErrorKind::InvalidSecretKey,
                format!(
                    "The secret access key must be 8 to 128 printable characters without spaces (the one sent has \
                     {} characters{}). Copy it again from where the key was created.",
                    value.chars().count(),
                    if printable(value) { "" } else { ", some not printable" }
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The plain text, for the sealer and the signer only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(** redacted **)")
    }
}

/// The secret access key as it is stored: ciphertext that only the sealer's key opens, bound to
/// the org it belongs to (`crate::aws::secrets`).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    pub fn from_ciphertext(ciphertext: Vec<u8>) -> Self {
        Self(ciphertext)
    }

    pub fn ciphertext(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

/// The secret in a create or replace body: a new one, or (on replace) none, which keeps the
/// stored one.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretInput {
    New(SecretAccessKey),
    Keep,
}

impl fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::New(_) => f.write_str("SecretInput::New(** redacted **)"),
            Self::Keep => f.write_str("SecretInput::Keep"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_kept_to_scheme_host_and_port() {
        let endpoint = StoreEndpoint::parse("https://MinIO.Example.com:9000/").unwrap();
        assert_eq!(endpoint.as_str(), "https://minio.example.com:9000");
        assert_eq!(endpoint.port(), 9000);
        assert_eq!(
            StoreEndpoint::parse("https://r2.example.com:443").unwrap().as_str(),
            "https://r2.example.com"
        );
        assert_eq!(
            StoreEndpoint::parse("https://[::1]:9000").unwrap().host(),
            &url::Host::<String>::Ipv6(std::net::Ipv6Addr::LOCALHOST)
        );
    }

    #[test]
    fn an_endpoint_with_a_path_query_credentials_or_another_scheme_is_refused() {
        for bad in [
            "https://host/bucket",
            "https://host?x=1",
            "https://host#frag",
            "https://user:pass@host",
            "ftp://host",
            "host:9000",
            "https://",
            "https://ho st",
            "https://host_name.example.com",
        ] {
            let error = StoreEndpoint::parse(bad).unwrap_err();
            assert_eq!(error.kind, InputErrorKind::InvalidEndpoint, "{bad}");
        }
        let with_credentials = StoreEndpoint::parse("https://admin:hunter2@host").unwrap_err();
        assert!(with_credentials.message.contains("credentials"), "{}", with_credentials.message);
    }

    #[test]
    fn a_secret_is_never_repeated_in_its_rejection_or_its_debug() {
        let error = SecretAccessKey::parse("short").unwrap_err();
        assert!(!error.message.contains("short"), "{}", error.message);
        let secret = SecretAccessKey::parse("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").unwrap();
        assert!(!format!("{secret:?}").contains("wJalr"));
        assert!(!format!("{:?}", SecretInput::New(secret)).contains("wJalr"));
    }

    #[test]
    fn store_regions_and_access_keys_accept_what_stores_use() {
        for region in ["us-east-1", "auto", "us-ashburn-1"] {
            assert_eq!(StoreRegion::parse(region).unwrap().as_str(), region);
        }
        for bad in ["", "US-EAST-1", "us east", "a.b"] {
            assert!(StoreRegion::parse(bad).is_err(), "{bad}");
        }
        assert!(AccessKeyId::parse("minioadmin").is_ok());
        assert!(AccessKeyId::parse("ab").is_err());
        assert!(AccessKeyId::parse("has space").is_err());
    }
}
