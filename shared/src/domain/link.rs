//! Stable links: a capability token that names one object of one org until a deadline, and that
//! the service turns into a freshly presigned URL on every use (`GET /l/{token}`).
//!
//! The token is `<key id>.<payload>.<tag>`, all URL-safe, so it sits in one path segment:
//! - `payload` is base64url (no padding) of a compact binary record: format `1`, the expiry in Unix
//!   seconds, then the org id, bucket, key, version id, download name and media type, each with
//!   its length in front (an absent option has length 0);
//! - `tag` is base64url of HMAC-SHA256 under the key the id names, over a fixed label, the key id
//!   and the payload's bytes. It is checked in constant time before anything of the payload is read.
//!
//! HMAC rather than a signature: only this service issues and checks links, so a shared secret is
//! enough, and checking one costs a hash (the redirect is the hot path). The token is not
//! encrypted: it carries the locator the member sent, which is no secret from whoever holds the
//! link. Keys rotate: a token names its key, [`LinkKeys`] holds the current key (which issues) and
//! older ones (which still open the links they issued until those expire).

use crate::domain::bucket::BucketName;
use crate::domain::delivery::{DownloadName, MediaType};
use crate::domain::locator::{ObjectKey, S3Locator, VersionId};
use crate::domain::org::OrgId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// What the tag is computed over first: a token of another purpose or format never verifies.
const LABEL: &[u8] = b"s3-integrations stable link v1\0";
const FORMAT: u8 = 1;
/// The longest token read at all; the longest a link can make is about 4,700 characters
/// (a 1,024-byte key and version id, a 255-character file name).
pub const MAX_TOKEN_CHARS: usize = 6144;
/// Key material: at least this many bytes (256 bits when random).
pub const MIN_KEY_BYTES: usize = 32;
pub const MAX_KEYS: usize = 16;
const MAX_KEY_ID_CHARS: usize = 16;
const TAG_BYTES: usize = 32;

/// What a link grants: one object of one org (delivered as asked) until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub org: OrgId,
    pub locator: S3Locator,
    pub download_as: Option<DownloadName>,
    pub content_type: Option<MediaType>,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Why a token opens no link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Not a token this service issued, or altered since: nothing of it is trusted.
    Invalid,
    /// Well-formed, under a key id these keys do not hold (rotated in elsewhere, or long retired).
    UnknownKey,
    /// Authentic, and past its expiry.
    Expired { expired_at: u64 },
}

/// A key id: 1 to 16 characters of `[A-Za-z0-9_-]`, so it is URL-safe and never contains `.`.
#[derive(Clone, PartialEq, Eq)]
struct KeyId(String);

impl KeyId {
    fn parse(value: &str) -> Option<Self> {
        let ok = !value.is_empty()
            && value.len() <= MAX_KEY_ID_CHARS
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| Self(value.to_owned()))
    }
}

/// The signing keys: `current` issues every new link; every key (current or older) opens the
/// links it issued. Written as JSON, the shape Secrets Manager's generated secrets take:
/// `{"current": "k2", "k1": "<at least 32 characters>", "k2": "<...>"}`.
#[derive(Clone)]
pub struct LinkKeys {
    current: usize,
    keys: Vec<(KeyId, HmacSha256)>,
}

impl fmt::Debug for LinkKeys {
    /// Key ids only: key material never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.0.as_str()).collect();
        f.debug_struct("LinkKeys").field("current", &ids[self.current]).field("ids", &ids).finish()
    }
}

impl LinkKeys {
    /// Reads `{"current": "<id>", "<id>": "<key>", ...}`. The message names what is wrong and never
    /// quotes key material.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let shape = "a JSON object such as {\"current\": \"k1\", \"k1\": \"<a random key of at least 32 characters>\"}";
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| format!("the link signing keys are not JSON; write {shape}"))?;
        let serde_json::Value::Object(fields) = value else {
            return Err(format!("the link signing keys must be {shape}"));
        };
        let current = match fields.get("current") {
            Some(serde_json::Value::String(id)) => id.clone(),
            _ => return Err(format!("\"current\" must name the key that signs new links: {shape}")),
        };
        let mut keys = Vec::new();
        for (id, material) in fields.iter().filter(|(id, _)| id.as_str() != "current") {
            let key_id = KeyId::parse(id)
                .ok_or_else(|| format!("the key id {id:?} must be 1-16 characters of A-Za-z0-9_-"))?;
            let serde_json::Value::String(material) = material else {
                return Err(format!("the key {id:?} must be a string"));
            };
            if material.len() < MIN_KEY_BYTES {
                return Err(format!(
                    "the key {id:?} has {} bytes; a link signing key needs at least {MIN_KEY_BYTES} (random)",
                    material.len()
                ));
            }
            keys.push((key_id, keyed(material.as_bytes())));
        }
        if keys.len() > MAX_KEYS {
            return Err(format!("{} link signing keys are listed; keep at most {MAX_KEYS}", keys.len()));
        }
        let current = keys
            .iter()
            .position(|(id, _)| id.0 == current)
            .ok_or_else(|| format!("\"current\" names {current:?}, which is not one of the keys listed"))?;
        Ok(Self { current, keys })
    }

    /// One fresh random key, id `dev`: what the dev server signs with when it is given none, so
    /// its links last as long as the process.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self { current: 0, keys: vec![(KeyId("dev".to_owned()), keyed(&bytes))] })
    }

    /// The id of the key that issues new links.
    pub fn current_id(&self) -> &str {
        &self.keys[self.current].0 .0
    }

    /// The token for `link`, under the current key.
    pub fn issue(&self, link: &Link) -> String {
        let (id, key) = &self.keys[self.current];
        let payload = encode(link);
        let tag = tag(key, &id.0, &payload);
        let mut token = String::with_capacity(id.0.len() + 2 + (payload.len() + TAG_BYTES) * 4 / 3 + 4);
        token.push_str(&id.0);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        token
    }

    /// The link a token grants at `now` (Unix seconds): authentic first, then unexpired.
    pub fn open(&self, token: &str, now: u64) -> Result<Link, LinkError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(LinkError::Invalid);
        }
        let mut parts = token.split('.');
        let (Some(id), Some(payload), Some(sent_tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkError::Invalid);
        };
        KeyId::parse(id).ok_or(LinkError::Invalid)?;
        let (_, key) = self.keys.iter().find(|(known, _)| known.0 == id).ok_or(LinkError::UnknownKey)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LinkError::Invalid)?;
        let sent_tag = URL_SAFE_NO_PAD.decode(sent_tag).map_err(|_| LinkError::Invalid)?;
        let mut mac = key.clone();
        feed(&mut mac, id, &payload);
        mac.verify_slice(&sent_tag).map_err(|_| LinkError::Invalid)?;
        let link = decode(&payload).ok_or(LinkError::Invalid)?;
        if now >= link.expires_at {
            return Err(LinkError::Expired { expired_at: link.expires_at });
        }
        Ok(link)
    }
}

fn keyed(material: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(material)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

fn feed(mac: &mut HmacSha256, id: &str, payload: &[u8]) {
    mac.update(LABEL);
    mac.update(id.as_bytes());
    mac.update(b"\0");
    mac.update(payload);
}

fn tag(key: &HmacSha256, id: &str, payload: &[u8]) -> [u8; TAG_BYTES] {
    let mut mac = key.clone();
    feed(&mut mac, id, payload);
    mac.finalize().into_bytes().into()
}

/// The record: every length fits its field because the values were parsed ([`OrgId`] ≤ 48,
/// bucket ≤ 63, key and version ≤ 1,024 bytes, download name ≤ 255 characters, media type ≤ 255).
fn encode(link: &Link) -> Vec<u8> {
    let locator = &link.locator;
    let version = locator.version_id.as_ref().map_or("", VersionId::as_str);
    let download = link.download_as.as_ref().map_or("", DownloadName::name);
    let content_type = link.content_type.as_ref().map_or("", MediaType::as_str);
    let mut out = Vec::with_capacity(
        16 + link.org.as_str().len()
            + locator.key.as_str().len()
            + version.len()
            + download.len()
            + content_type.len(),
    );
    out.push(FORMAT);
    out.extend_from_slice(&link.expires_at.to_be_bytes());
    short(&mut out, link.org.as_str());
    short(&mut out, locator.bucket.as_str());
    long(&mut out, locator.key.as_str());
    long(&mut out, version);
    long(&mut out, download);
    short(&mut out, content_type);
    out
}

fn short(out: &mut Vec<u8>, text: &str) {
    out.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(text.as_bytes());
}

fn long(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&u16::try_from(text.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Reads a record back into parsed values; `None` for anything that is not one `encode` wrote.
fn decode(bytes: &[u8]) -> Option<Link> {
    let mut reader = Reader(bytes);
    if reader.take(1)? != [FORMAT] {
        return None;
    }
    let expires_at = u64::from_be_bytes(reader.take(8)?.try_into().ok()?);
    let org = OrgId::parse(reader.short()?).ok()?;
    let bucket = BucketName::parse(reader.short()?).ok()?;
    let key = ObjectKey::parse(reader.long()?).ok()?;
    let version_id = Some(reader.long()?).filter(|v| !v.is_empty()).map(VersionId::parse).transpose().ok()?;
    let download_as =
        Some(reader.long()?).filter(|v| !v.is_empty()).map(DownloadName::parse).transpose().ok()?;
    let content_type =
        Some(reader.short()?).filter(|v| !v.is_empty()).map(MediaType::parse).transpose().ok()?;
    if !reader.0.is_empty() {
        return None;
    }
    Some(Link { org, locator: S3Locator { bucket, key, version_id }, download_as, content_type, expires_at })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn text(&mut self, n: usize) -> Option<&'a str> {
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn short(&mut self) -> Option<&'a str> {
        let n = usize::from(self.take(1)?[0]);
        self.text(n)
    }

    fn long(&mut self) -> Option<&'a str> {
        let len = self.take(2)?;
        let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
        self.text(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn keys(json: &str) -> LinkKeys {
        LinkKeys::from_json(json).unwrap()
    }

    fn k1() -> LinkKeys {
        keys(r#"{"current": "k1", "k1": "0123456789abcdef0123456789abcdef"}"#)
    }

    fn link(locator: &str) -> Link {
        Link {
            org: OrgId::parse("acme").unwrap(),
            locator: S3Locator::parse(locator).unwrap(),
            download_as: None,
            content_type: None,
            expires_at: NOW + 3600,
        }
    }

    #[test]
    fn a_token_opens_to_exactly_the_link_it_was_issued_for() {
        let mut granted = link("s3://acme-photos/a b/ü+%#?.png?versionId=v.1_x");
        granted.download_as = Some(DownloadName::parse("résumé \"final\"; v2.pdf").unwrap());
        granted.content_type = Some(MediaType::parse("application/pdf").unwrap());
        let token = k1().issue(&granted);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{token}");
        assert!(token.starts_with("k1."));
        assert_eq!(k1().open(&token, NOW), Ok(granted));
    }

    #[test]
    fn changing_any_character_of_a_token_makes_it_invalid() {
        let token = k1().issue(&link("s3://acme-photos/cat.png"));
        let alphabet = b"ABCabc019-_";
        for i in 0..token.len() {
            for replacement in alphabet {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == *replacement || bytes[i] == b'.' {
                    continue;
                }
                bytes[i] = *replacement;
                let tampered = String::from_utf8(bytes).unwrap();
                let opened = k1().open(&tampered, NOW);
                assert!(
                    matches!(opened, Err(LinkError::Invalid | LinkError::UnknownKey)),
                    "position {i}: {tampered} opened as {opened:?}"
                );
            }
        }
    }

    #[test]
    fn a_token_for_one_org_cannot_be_edited_into_another_orgs_even_with_a_recomputed_payload() {
        let token = k1().issue(&link("s3://acme-photos/cat.png"));
        let mut other = link("s3://acme-photos/cat.png");
        other.org = OrgId::parse("globex").unwrap();
        let other_payload = URL_SAFE_NO_PAD.encode(encode(&other));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
        assert_eq!(k1().open(&forged, NOW), Err(LinkError::Invalid));
    }

    #[test]
    fn a_token_is_refused_from_its_expiry_on_and_says_when_it_expired() {
        let token = k1().issue(&link("s3://acme-photos/cat.png"));
        assert!(k1().open(&token, NOW + 3599).is_ok());
        assert_eq!(k1().open(&token, NOW + 3600), Err(LinkError::Expired { expired_at: NOW + 3600 }));
    }

    #[test]
    fn a_token_of_another_key_with_the_same_id_is_invalid() {
        let other = keys(r#"{"current": "k1", "k1": "ffffffffffffffffffffffffffffffff"}"#);
        let token = other.issue(&link("s3://acme-photos/cat.png"));
        assert_eq!(k1().open(&token, NOW), Err(LinkError::Invalid));
    }

    #[test]
    fn after_rotation_new_links_use_the_new_key_and_old_links_still_open_until_the_old_key_is_dropped() {
        let old_token = k1().issue(&link("s3://acme-photos/cat.png"));
        let rotated = keys(
            r#"{"current": "k2", "k1": "0123456789abcdef0123456789abcdef", "k2": "another key of thirty-two bytes!!"}"#,
        );
        let new_token = rotated.issue(&link("s3://acme-photos/cat.png"));
        assert!(new_token.starts_with("k2."));
        assert!(rotated.open(&old_token, NOW).is_ok());
        assert!(rotated.open(&new_token, NOW).is_ok());
        assert_eq!(k1().open(&new_token, NOW), Err(LinkError::UnknownKey));
        let retired = keys(r#"{"current": "k2", "k2": "another key of thirty-two bytes!!"}"#);
        assert_eq!(retired.open(&old_token, NOW), Err(LinkError::UnknownKey));
    }

    #[test]
    fn garbage_empty_and_oversized_tokens_are_invalid_without_panicking() {
        let huge = "k1.".to_owned() + &"A".repeat(MAX_TOKEN_CHARS);
        for token in ["", ".", "..", "k1..", "k1.AA.AA", "k1.a.b.c", "bad id.AA.AA", "k1.%%%.AA", &huge] {
            let opened = k1().open(token, NOW);
            assert!(matches!(opened, Err(LinkError::Invalid)), "{token:?}: {opened:?}");
        }
    }

    #[test]
    fn a_record_with_bytes_after_its_fields_or_a_wrong_format_is_not_decoded() {
        let mut bytes = encode(&link("s3://acme-photos/cat.png"));
        assert!(decode(&bytes).is_some());
        bytes.push(0);
        assert!(decode(&bytes).is_none());
        let mut wrong_format = encode(&link("s3://acme-photos/cat.png"));
        wrong_format[0] = 2;
        assert!(decode(&wrong_format).is_none());
    }

    #[test]
    fn the_longest_link_fits_in_the_token_bound() {
        let mut longest =
            link(&format!("s3://{}/{}?versionId={}", "b".repeat(63), "😀".repeat(256), "v".repeat(1024)));
        longest.org = OrgId::parse(&"o".repeat(48)).unwrap();
        longest.download_as = Some(DownloadName::parse(&"😀".repeat(255)).unwrap());
        longest.content_type = Some(MediaType::parse(&format!("text/plain; x={}", "a".repeat(240))).unwrap());
        let token = k1().issue(&longest);
        assert!(token.len() <= MAX_TOKEN_CHARS, "{}", token.len());
        assert_eq!(k1().open(&token, NOW), Ok(longest));
    }

    #[test]
    fn keys_are_refused_when_short_unnamed_misnamed_or_not_json_and_the_message_never_quotes_a_key() {
        let cases = [
            ("not json", "not JSON"),
            ("[]", "must be"),
            (r#"{"k1": "0123456789abcdef0123456789abcdef"}"#, "\"current\""),
            (r#"{"current": "k9", "k1": "0123456789abcdef0123456789abcdef"}"#, "not one of the keys"),
            (r#"{"current": "k1", "k1": "short-secret-key"}"#, "at least 32"),
            (r#"{"current": "k.1", "k.1": "0123456789abcdef0123456789abcdef"}"#, "key id"),
            (r#"{"current": "k1", "k1": 5}"#, "must be a string"),
        ];
        for (json, expected) in cases {
            let message = LinkKeys::from_json(json).unwrap_err();
            assert!(message.contains(expected), "{json}: {message}");
            assert!(
                !message.contains("short-secret-key") && !message.contains("0123456789abcdef"),
                "{message}"
            );
        }
    }

    #[test]
    fn the_keys_debug_form_names_ids_and_never_material() {
        let shown = format!("{:?}", k1());
        assert!(shown.contains("k1") && !shown.contains("0123456789abcdef"), "{shown}");
    }

    #[test]
    fn random_keys_differ_per_start_and_open_their_own_links_only() {
        let (a, b) = (LinkKeys::random().unwrap(), LinkKeys::random().unwrap());
        let token = a.issue(&link("s3://acme-photos/cat.png"));
        assert!(a.open(&token, NOW).is_ok());
        assert_eq!(b.open(&token, NOW), Err(LinkError::Invalid));
    }
}
