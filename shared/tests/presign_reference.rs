//! Differential test of the presigner against the `aws-sigv4` crate.
//!
//! For every generated case the expected URL (scheme, host and path) is built here by an
//! independent encoder (the `percent-encoding` crate), our URL must start with exactly that, and
//! `aws-sigv4` — configured as S3 needs it: query-string signature, single encoding, no path
//! normalisation, `UNSIGNED-PAYLOAD`, the session token inside the signed query — must produce the
//! same query parameters and the same `X-Amz-Signature`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use shared::domain::presign::{
    BatchSigner, CustomEndpoint, Delivery, Method, PresignRequest, Presigner, S3Endpoint, SigningCredentials,
};
use shared::{BucketName, ObjectKey, Region, VersionId};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// The independent encoder: everything but A-Za-z0-9-._~ (and '/' in paths) becomes %XX.

const PATH_SET: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode_path(s: &str) -> String {
    percent_encode(s.as_bytes(), PATH_SET).to_string()
}

fn encode_query(s: &str) -> String {
    percent_encode(s.as_bytes(), QUERY_SET).to_string()
}

// ---------------------------------------------------------------------------------------------
// A deterministic generator of tricky keys.

/// xorshift64*: small, deterministic, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Pieces keys are made of: every ASCII punctuation mark, separators, look-alike escapes and
/// unicode of every UTF-8 width (2, 3 and 4 bytes, combining marks, invisible characters).
const PIECES: &[&str] = &[
    "a",
    "Z",
    "0",
    "9",
    "photo",
    "img_000123",
    "data",
    "-",
    "_",
    ".",
    "~",
    " ",
    "  ",
    "+",
    "%",
    "=",
    "&",
    "?",
    "#",
    "/",
    "//",
    "///",
    "!",
    "\"",
    "$",
    "'",
    "(",
    ")",
    "*",
    ",",
    ";",
    ":",
    "@",
    "[",
    "]",
    "{",
    "}",
    "|",
    "\\",
    "^",
    "`",
    "<",
    ">",
    "%20",
    "%2F",
    "%25",
    "%2B",
    "+ +",
    "a=b&c=d",
    "?versionId=x",
    "#frag",
    "copy (2).jpg",
    ".hidden",
    "...",
    "é",
    "ü",
    "ß",
    "Ω",
    "ñ",
    "日本",
    "ファイル",
    "中文",
    "한국어",
    "€",
    "\u{3000}",
    "\u{200B}",
    "\u{FEFF}",
    "e\u{301}",
    "\u{A0}",
    "😀",
    "𝄞",
    "🇫🇷",
    "👩\u{200D}💻",
    "\u{10FFFD}",
];

const FOUR_BYTE: &[&str] = &["😀", "𝄞", "🦀", "\u{10FFFD}", "𠜎"];

fn is_valid_key(key: &str) -> bool {
    ObjectKey::parse(key).is_ok()
}

/// Pads or trims `key` to exactly `target` bytes without splitting a character.
fn fit_to_bytes(mut key: String, target: usize, rng: &mut Rng) -> String {
    while key.len() > target {
        key.pop();
    }
    while key.len() < target {
        let room = target - key.len();
        let piece = rng.pick(PIECES);
        if piece.len() <= room && !piece.is_empty() {
            key.push_str(piece);
        } else {
            key.push('x');
        }
    }
    key
}

/// The fixed keys every run covers, then `generated` pseudo-random ones. Every key is valid.
fn keys(generated: usize) -> Vec<String> {
    let mut keys: Vec<String> = [
        "test.txt",
        "a",
        "datasets/2026/batch-0042/images/img_000123 copy (2).jpg",
        " leading space",
        "trailing space ",
        "  both  ",
        " ",
        "a//b",
        "//",
        "//double-leading",
        "/leading-slash",
        "trailing-slash/",
        "a+b",
        "100%",
        "%",
        "%25",
        "%2F",
        "a%20b",
        "a=b&c=d",
        "what?",
        "?versionId=abc",
        "#hash",
        "~tilde~",
        "sp ace",
        "😀",
        "𝄞 music/🦀 crab.png",
        "日本語/ファイル.txt",
        "e\u{301}t\u{301}e\u{301}",
        "...",
        ".../x",
        ".hidden",
        "a/.b/..c/c..",
        "!\"$'()*,;:@[]{}|\\^`<>",
        "x/ /y",
        "x /y/ z",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();

    // Exactly 1,024 bytes: ASCII, all 4-byte characters, and a mix.
    keys.push("a".repeat(1024));
    keys.push("😀".repeat(256));
    keys.push(format!("{}{}", "é".repeat(500), "+ =&?#".repeat(4)));
    keys.push(format!("dir/{}/file", "%".repeat(1015)));

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut made = 0;
    while made < generated {
        let exact_1024 = made % 25 == 0;
        let pieces = if exact_1024 { 300 } else { 1 + rng.below(40) };
        let mut key = String::new();
        if rng.below(8) == 0 {
            key.push(' ');
        }
        for _ in 0..pieces {
            key.push_str(rng.pick(PIECES));
        }
        if made % 7 == 0 {
            key.push_str(rng.pick(FOUR_BYTE));
        }
        if rng.below(8) == 0 {
            key.push(' ');
        }
        if exact_1024 {
            key = fit_to_bytes(key, 1024, &mut rng);
        }
        while key.len() > 1024 {
            key.pop();
        }
        if is_valid_key(&key) {
            keys.push(key);
            made += 1;
        }
    }
    for key in &keys {
        assert!(is_valid_key(key), "fixed key {key:?} does not parse");
    }
    keys
}

const GENERATED_KEYS: usize = 1_100;

// ---------------------------------------------------------------------------------------------
// Credentials, regions, times, endpoints.

/// A realistic STS session token: ~900 characters of base64 with `+`, `/` and `=` padding.
fn session_token() -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = Rng(0x5EED_7043_E000_0001);
    let mut token = String::from("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+");
    while token.len() < 898 {
        token.push(char::from(B64[rng.below(B64.len())]));
    }
    token.push_str("==");
    token
}

fn credentials(with_token: bool) -> SigningCredentials {
    if with_token {
        SigningCredentials {
            access_key_id: "ASIAQEXAMPLE7TOKEN42".into(),
            secret_access_key: "tK3/+Yz9uV2wXa8Bq/EXAMPLE+SECRET/kEyZz09".into(),
            session_token: Some(session_token()),
        }
    } else {
        SigningCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }
}

const REGIONS: &[&str] =
    &["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1", "cn-north-1", "us-gov-west-1", "me-central-1"];

fn times() -> Vec<SystemTime> {
    [
        Duration::from_secs(1_795_909_800),        // 2026-11-28T23:50:00Z
        Duration::from_secs(1_795_996_799),        // 2026-11-29T23:59:59Z
        Duration::new(1_709_164_800, 999_999_999), // 2024-02-29T00:00:00.999Z
        Duration::from_secs(951_868_799),          // 2000-02-29T23:59:59Z
        Duration::from_secs(1_369_353_600),        // 2013-05-24T00:00:00Z
        Duration::from_secs(4_102_444_800 - 1),    // 2099-12-31T23:59:59Z
    ]
    .into_iter()
    .map(|d| UNIX_EPOCH + d)
    .collect()
}

const EXPIRES: &[u32] = &[1, 60, 900, 3_600, 43_200, 86_400, 604_800];

fn version_ids() -> Vec<String> {
    let mut ids: Vec<String> = [
        "null",
        "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
        "UIORUnfndfiufdisojhr398493jfdkjFJjkndnqUifhnw89493jJFJ",
        "Abc.def_ghi-jkl~mno",
        "a=b:c;d,e!f*g'h(i)j[k]l{m}n|o\\p^q`r<s>t\"u$v@w",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let alphabet: Vec<char> =
        (0x21u8..0x7F).map(char::from).filter(|c| !matches!(c, '?' | '&' | '#' | '/' | '%')).collect();
    for _ in 0..20 {
        let len = 1 + rng.below(120);
        ids.push((0..len).map(|_| rng.pick(&alphabet)).collect());
    }
    ids.push("v".repeat(1024));
    for id in &ids {
        assert!(VersionId::parse(id).is_ok(), "version id {id:?} does not parse");
    }
    ids
}

/// How URLs are addressed; each variant knows how to build the expected URL independently.
#[derive(Debug, Clone, Copy)]
enum Addressing {
    /// Real S3, a bucket without dots: `https://<bucket>.s3.<region>.<suffix>/<key>`.
    AwsVirtualHosted,
    /// Real S3, a bucket with dots: `https://s3.<region>.<suffix>/<bucket>/<key>`.
    AwsDottedPathStyle,
    /// `http://127.0.0.1:9000/<bucket>/<key>`.
    CustomPathStyle,
    /// `https://storage.example.com/s3/api/<bucket>/<key>`: a base path before the bucket.
    CustomPathStyleWithBase,
    /// `http://<bucket>.localhost:4566/<key>`.
    CustomVirtualHosted,
}

const ADDRESSINGS: &[Addressing] = &[
    Addressing::AwsVirtualHosted,
    Addressing::AwsDottedPathStyle,
    Addressing::CustomPathStyle,
    Addressing::CustomPathStyleWithBase,
    Addressing::CustomVirtualHosted,
];

impl Addressing {
    fn bucket(self) -> &'static str {
        match self {
            Addressing::AwsDottedPathStyle => "my.dotted.bucket-2026",
            Addressing::CustomPathStyle => "local-bucket",
            _ => "example-bucket-01",
        }
    }

    fn endpoint(self) -> S3Endpoint {
        match self {
            Addressing::AwsVirtualHosted | Addressing::AwsDottedPathStyle => S3Endpoint::Aws,
            Addressing::CustomPathStyle => {
                S3Endpoint::Custom(CustomEndpoint::parse("http://127.0.0.1:9000", false).unwrap())
            }
            Addressing::CustomPathStyleWithBase => S3Endpoint::Custom(
                CustomEndpoint::parse("https://storage.example.com/s3/api/", false).unwrap(),
            ),
            Addressing::CustomVirtualHosted => {
                S3Endpoint::Custom(CustomEndpoint::parse("http://localhost:4566", true).unwrap())
            }
        }
    }

    /// The URL up to (not including) `?`, built without the presigner.
    fn expected_base(self, region: &str, key: &str) -> String {
        let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
        let bucket = self.bucket();
        let path = encode_path(key);
        match self {
            Addressing::AwsVirtualHosted => format!("https://{bucket}.s3.{region}.{suffix}/{path}"),
            Addressing::AwsDottedPathStyle => format!("https://s3.{region}.{suffix}/{bucket}/{path}"),
            Addressing::CustomPathStyle => format!("http://127.0.0.1:9000/{bucket}/{path}"),
            Addressing::CustomPathStyleWithBase => {
                format!("https://storage.example.com/s3/api/{bucket}/{path}")
            }
            Addressing::CustomVirtualHosted => format!("http://{bucket}.localhost:4566/{path}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One case, checked against the reference.

#[derive(Debug, Clone)]
struct Case {
    key: String,
    addressing: Addressing,
    region: &'static str,
    with_token: bool,
    version_id: Option<String>,
    now: SystemTime,
    expires_in_secs: u32,
}

/// The query parameters `aws-sigv4` produces for `base_url` (+ `versionId`), each encoded by the
/// independent encoder, and its signature.
fn reference(case: &Case, base_url: &str) -> (Vec<(String, String)>, String) {
    let mut url = base_url.to_owned();
    if let Some(version) = &case.version_id {
        url.push_str("?versionId=");
        url.push_str(&encode_query(version));
    }
    let (mut query, signature) =
        reference_for("GET", &url, case.with_token, case.region, case.now, case.expires_in_secs);
    if let Some(version) = &case.version_id {
        query.push(("versionId".to_owned(), encode_query(version)));
    }
    query.sort();
    (query, signature)
}

fn ours(signer: &BatchSigner<'_>, case: &Case) -> String {
    let bucket = BucketName::parse(case.addressing.bucket()).unwrap();
    let key = ObjectKey::parse(&case.key).unwrap();
    let version = case.version_id.as_deref().map(|v| VersionId::parse(v).unwrap());
    signer.presign(&PresignRequest {
        bucket: &bucket,
        key: &key,
        version_id: version.as_ref(),
        expires_in_secs: case.expires_in_secs,
    })
}

/// Compares our URL for `case` with the reference; `Err` describes the first difference.
fn check(signer: &BatchSigner<'_>, case: &Case) -> Result<(), String> {
    check_url(&ours(signer, case), case)
}

/// Compares `url` with the reference URL for `case`.
fn check_url(url: &str, case: &Case) -> Result<(), String> {
    let expected_base = case.addressing.expected_base(case.region, &case.key);
    let (base, query) = url.split_once('?').ok_or_else(|| format!("no query string in {url}"))?;
    if base != expected_base {
        return Err(format!("URL path differs:\n  ours:     {base}\n  expected: {expected_base}"));
    }

    let (expected_query, expected_signature) = reference(case, &expected_base);

    let signature = query
        .rsplit_once("&X-Amz-Signature=")
        .map(|(_, s)| s)
        .ok_or_else(|| format!("the URL does not end with X-Amz-Signature: {url}"))?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the signature is not 64 hex digits: {signature}"));
    }
    if signature != expected_signature {
        return Err(format!(
            "signature differs:\n  ours:      {signature}\n  aws-sigv4: {expected_signature}\n  url: {url}"
        ));
    }

    let mut our_query: Vec<(String, String)> = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    our_query.sort();
    if our_query != expected_query {
        return Err(format!(
            "query parameters differ:\n  ours:      {our_query:?}\n  aws-sigv4: {expected_query:?}"
        ));
    }
    Ok(())
}

/// Runs every case, one batch signer per (credentials, region, time, endpoint) as the service
/// does, and fails with the first few differences.
fn run(cases: &[Case]) -> usize {
    let mut failures = Vec::new();
    for case in cases {
        let presigner = Presigner::new(case.addressing.endpoint());
        let region = Region::parse(case.region).unwrap();
        let signer = presigner.batch(&credentials(case.with_token), region, case.now);
        if let Err(why) = check(&signer, case) {
            failures.push(format!("key {:?} ({case:?}):\n{why}", case.key));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from aws-sigv4; the first ones:\n\n{}",
        failures.len(),
        cases.len(),
        failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n\n")
    );
    cases.len()
}

/// Spreads every dimension over the keys with different strides so combinations vary.
fn matrix(
    keys: &[String],
    addressing: impl Fn(usize) -> Addressing,
    with_token: impl Fn(usize) -> bool,
    with_version: impl Fn(usize) -> bool,
) -> Vec<Case> {
    let times = times();
    let versions = version_ids();
    keys.iter()
        .enumerate()
        .map(|(i, key)| Case {
            key: key.clone(),
            addressing: addressing(i),
            region: REGIONS[(i * 3 + 1) % REGIONS.len()],
            with_token: with_token(i),
            version_id: with_version(i).then(|| versions[(i * 7) % versions.len()].clone()),
            now: times[(i * 5 + 2) % times.len()],
            expires_in_secs: EXPIRES[(i * 11) % EXPIRES.len()],
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn the_generated_keys_cover_every_tricky_kind_of_key() {
    let keys = keys(GENERATED_KEYS);
    assert!(keys.len() >= 1_000, "only {} keys", keys.len());
    for needle in [" ", "+", "%", "=", "&", "?", "#", "~", "//", "\\", "é", "日本"] {
        let n = keys.iter().filter(|k| k.contains(needle)).count();
        assert!(n >= 20, "only {n} keys contain {needle:?}");
    }
    let four_byte = keys.iter().filter(|k| k.chars().any(|c| c.len_utf8() == 4)).count();
    let leading = keys.iter().filter(|k| k.starts_with(' ')).count();
    let trailing = keys.iter().filter(|k| k.ends_with(' ')).count();
    let full = keys.iter().filter(|k| k.len() == 1024).count();
    assert!(four_byte >= 100, "only {four_byte} keys have 4-byte characters");
    assert!(leading >= 50, "only {leading} keys start with a space");
    assert!(trailing >= 50, "only {trailing} keys end with a space");
    assert!(full >= 40, "only {full} keys are exactly 1,024 bytes");
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert!(unique.len() + 5 >= keys.len(), "the generator repeats itself");
}

#[test]
fn the_independent_encoder_encodes_as_s3_documents() {
    assert_eq!(encode_path("a b+c%/d//é~"), "a%20b%2Bc%25/d//%C3%A9~");
    assert_eq!(encode_query("a/b=c"), "a%2Fb%3Dc");
    let mut ours = String::new();
    shared::domain::presign::encode_into(&mut ours, "𝄞 +=&?#%/".as_bytes(), true);
    assert_eq!(ours, encode_path("𝄞 +=&?#%/"));
}

#[test]
fn virtual_hosted_urls_for_every_generated_key_match_aws_sigv4() {
    let keys = keys(GENERATED_KEYS);
    let n = run(&matrix(&keys, |_| Addressing::AwsVirtualHosted, |i| i % 2 == 0, |i| i % 3 == 0));
    assert!(n >= 1_000);
}

#[test]
fn path_style_urls_for_dotted_buckets_match_aws_sigv4_for_every_generated_key() {
    let keys = keys(GENERATED_KEYS);
    let n = run(&matrix(&keys, |_| Addressing::AwsDottedPathStyle, |i| i % 2 == 1, |i| i % 4 == 0));
    assert!(n >= 1_000);
}

#[test]
fn path_style_urls_for_a_custom_endpoint_match_aws_sigv4_for_every_generated_key() {
    let keys = keys(GENERATED_KEYS);
    let addressing = |i: usize| {
        if i % 2 == 0 {
            Addressing::CustomPathStyle
        } else {
            Addressing::CustomPathStyleWithBase
        }
    };
    let n = run(&matrix(&keys, addressing, |i| i % 3 != 0, |i| i % 5 < 2));
    assert!(n >= 1_000);
}

#[test]
fn virtual_hosted_urls_for_a_custom_endpoint_match_aws_sigv4() {
    let keys = keys(200);
    run(&matrix(&keys, |_| Addressing::CustomVirtualHosted, |i| i % 2 == 0, |i| i % 2 == 1));
}

#[test]
fn urls_signed_with_a_session_token_carry_it_in_the_signed_query_as_aws_sigv4_does() {
    let keys = keys(GENERATED_KEYS);
    let cases = matrix(&keys, |i| ADDRESSINGS[i % ADDRESSINGS.len()], |_| true, |i| i % 2 == 0);
    run(&cases);
    // The token is really in the URL, encoded once (`+` `/` `=` escaped).
    let presigner = Presigner::new(S3Endpoint::Aws);
    let signer = presigner.batch(&credentials(true), Region::parse("us-east-1").unwrap(), times()[0]);
    let url = ours(&signer, &cases[0]);
    assert!(session_token().len() >= 880 && session_token().contains(['+', '/']));
    assert!(url.contains(&format!("&X-Amz-Security-Token={}&", encode_query(&session_token()))));
}

#[test]
fn urls_signed_without_a_session_token_match_aws_sigv4_and_carry_no_token() {
    let keys = keys(GENERATED_KEYS);
    let cases = matrix(&keys, |i| ADDRESSINGS[(i / 3) % ADDRESSINGS.len()], |_| false, |i| i % 2 == 1);
    run(&cases);
    let presigner = Presigner::new(S3Endpoint::Aws);
    let signer = presigner.batch(&credentials(false), Region::parse("eu-west-1").unwrap(), times()[0]);
    assert!(!ours(&signer, &cases[0]).contains("X-Amz-Security-Token"));
}

#[test]
fn urls_for_an_object_version_sign_the_version_id_as_aws_sigv4_does() {
    let keys = keys(GENERATED_KEYS);
    let n = run(&matrix(&keys, |i| ADDRESSINGS[i % ADDRESSINGS.len()], |i| i % 2 == 0, |_| true));
    assert!(n >= 1_000);
}

#[test]
fn every_supported_region_signs_as_aws_sigv4_signs() {
    let keys = keys(30);
    let mut cases = Vec::new();
    for region in Region::all() {
        for (i, key) in keys.iter().enumerate().take(12) {
            for addressing in [Addressing::AwsVirtualHosted, Addressing::AwsDottedPathStyle] {
                cases.push(Case {
                    key: key.clone(),
                    addressing,
                    region: region.as_str(),
                    with_token: i % 2 == 0,
                    version_id: (i % 3 == 0).then(|| "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".to_owned()),
                    now: times()[i % times().len()],
                    expires_in_secs: 3_600,
                });
            }
        }
    }
    run(&cases);
}

#[test]
fn keys_of_exactly_1024_bytes_sign_as_aws_sigv4_signs_them() {
    let keys: Vec<String> = keys(GENERATED_KEYS).into_iter().filter(|k| k.len() == 1024).collect();
    assert!(keys.len() >= 40);
    let cases = matrix(&keys, |i| ADDRESSINGS[i % ADDRESSINGS.len()], |i| i % 2 == 0, |i| i % 3 == 0);
    run(&cases);
}

#[test]
fn one_batch_signer_signs_every_key_as_a_fresh_signer_would() {
    let keys = keys(300);
    let now = times()[0];
    let region = Region::parse("ap-southeast-2").unwrap();
    let creds = credentials(true);
    for addressing in ADDRESSINGS {
        let presigner = Presigner::new(addressing.endpoint());
        let shared_signer = presigner.batch(&creds, region, now);
        for (i, key) in keys.iter().enumerate() {
            let case = Case {
                key: key.clone(),
                addressing: *addressing,
                region: "ap-southeast-2",
                with_token: true,
                version_id: (i % 2 == 0).then(|| "null".to_owned()),
                now,
                expires_in_secs: 900,
            };
            let fresh = presigner.batch(&creds, region, now);
            assert_eq!(ours(&shared_signer, &case), ours(&fresh, &case));
            check(&shared_signer, &case).unwrap_or_else(|why| panic!("{why}"));
        }
    }
}

#[test]
fn presign_into_appends_the_same_url_that_presign_returns() {
    let presigner = Presigner::new(S3Endpoint::Aws);
    let signer = presigner.batch(&credentials(true), Region::parse("us-east-1").unwrap(), times()[0]);
    let bucket = BucketName::parse("example-bucket-01").unwrap();
    let mut buffer = String::from("prefix:");
    for key in keys(50) {
        let key = ObjectKey::parse(&key).unwrap();
        let request = PresignRequest { bucket: &bucket, key: &key, version_id: None, expires_in_secs: 60 };
        buffer.truncate("prefix:".len());
        signer.presign_into(&request, &mut buffer);
        assert_eq!(&buffer["prefix:".len()..], signer.presign(&request));
    }
}

#[test]
fn the_comparison_notices_any_change_to_what_is_signed() {
    // A control for the harness itself: a URL signed for one case must not pass as another.
    let keys = keys(20);
    let base = Case {
        key: keys[2].clone(),
        addressing: Addressing::AwsVirtualHosted,
        region: "us-east-1",
        with_token: true,
        version_id: Some("null".to_owned()),
        now: times()[0],
        expires_in_secs: 900,
    };
    let url = {
        let presigner = Presigner::new(base.addressing.endpoint());
        let signer = presigner.batch(&credentials(true), Region::parse(base.region).unwrap(), base.now);
        ours(&signer, &base)
    };
    check_url(&url, &base).unwrap();
    let variants = [
        Case { key: format!("{} ", base.key), ..base.clone() },
        Case { addressing: Addressing::AwsDottedPathStyle, ..base.clone() },
        Case { region: "us-east-2", ..base.clone() },
        Case { with_token: false, ..base.clone() },
        Case { version_id: None, ..base.clone() },
        Case { version_id: Some("nulL".to_owned()), ..base.clone() },
        Case { now: base.now + Duration::from_secs(1), ..base.clone() },
        Case { expires_in_secs: 901, ..base.clone() },
    ];
    for variant in &variants {
        assert!(check_url(&url, variant).is_err(), "a URL for {base:?} passed as {variant:?}");
    }
}

#[test]
fn a_custom_endpoint_with_an_explicit_default_port_signs_the_host_clients_send() {
    // Clients (hyper, browsers) drop a default port from the Host header, and aws-sigv4 signs
    // the host without it; a signature over `host:443` would be refused.
    for (endpoint, host) in
        [("https://s3.example.net:443", "s3.example.net"), ("http://localhost:80", "localhost")]
    {
        let presigner = Presigner::new(S3Endpoint::Custom(CustomEndpoint::parse(endpoint, false).unwrap()));
        let case = Case {
            key: "photos/a b+c.jpg".to_owned(),
            addressing: Addressing::CustomPathStyle,
            region: "us-east-1",
            with_token: false,
            version_id: None,
            now: times()[0],
            expires_in_secs: 900,
        };
        let signer = presigner.batch(&credentials(false), Region::parse("us-east-1").unwrap(), case.now);
        let url = ours(&signer, &case);
        let (base, _) = url.split_once('?').unwrap();
        let path = format!("/local-bucket/{}", encode_path(&case.key));
        assert!(base.ends_with(&path), "{url}");
        // Sign the very URL we produced (port included or not) with aws-sigv4.
        let (_, signature) = reference(&case, base);
        assert!(
            url.ends_with(&format!("&X-Amz-Signature={signature}")),
            "endpoint {endpoint}: aws-sigv4 signs host {host:?}; our URL {url} has another signature"
        );
    }
}

/// aws-sigv4's signature for `url` (its query already in it) with `method`, and the parameters it
/// adds (each encoded by the independent encoder).
fn reference_for(
    method: &str,
    url: &str,
    with_token: bool,
    region: &str,
    now: SystemTime,
    expires_in_secs: u32,
) -> (Vec<(String, String)>, String) {
    let creds = credentials(with_token);
    let identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "presign-reference-test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(u64::from(expires_in_secs)));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.session_token_mode = SessionTokenMode::Include;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let request = SignableRequest::new(method, url, std::iter::empty(), SignableBody::UnsignedPayload)
        .unwrap_or_else(|e| panic!("aws-sigv4 cannot take {url}: {e}"));
    let (instructions, signature) =
        sign(request, &params).unwrap_or_else(|e| panic!("aws-sigv4 cannot sign {url}: {e}")).into_parts();
    let query = instructions.params().iter().map(|(k, v)| ((*k).to_owned(), encode_query(v))).collect();
    (query, signature)
}

#[test]
fn head_urls_and_signed_response_headers_match_aws_sigv4() {
    let dispositions = [
        shared::domain::delivery::DownloadName::parse("cat.png").unwrap(),
        shared::domain::delivery::DownloadName::parse("Ünïcødé \"report\"; v2 😀.pdf").unwrap(),
        shared::domain::delivery::DownloadName::parse("a;b=c, d%20e.txt").unwrap(),
    ];
    let presigner = Presigner::new(S3Endpoint::Aws);
    let now = times()[0];
    let bucket = BucketName::parse("example-bucket-01").unwrap();
    let mut checked = 0;
    for key in ["plain.txt", "with space/and+plus.mp4", "ünïcødé/vidéo #1.webm"] {
        let object = ObjectKey::parse(key).unwrap();
        for version in [None, Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo")] {
            let version_id = version.map(|v| VersionId::parse(v).unwrap());
            for (method, name) in [(Method::Get, "GET"), (Method::Head, "HEAD")] {
                for disposition in dispositions.iter().map(|d| Some(d.header())).chain([None]) {
                    for content_type in [None, Some("video/mp4"), Some("text/plain; charset=utf-8")] {
                        for with_token in [true, false] {
                            let delivery =
                                Delivery { method, content_disposition: disposition, content_type };
                            let signer = presigner.batch(
                                &credentials(with_token),
                                Region::parse("us-east-1").unwrap(),
                                now,
                            );
                            let request = PresignRequest {
                                bucket: &bucket,
                                key: &object,
                                version_id: version_id.as_ref(),
                                expires_in_secs: 600,
                            };
                            let ours = signer.presign_with(&request, &delivery);
                            let base = format!(
                                "https://example-bucket-01.s3.us-east-1.amazonaws.com/{}",
                                encode_path(key)
                            );
                            let mut extra: Vec<(String, String)> = Vec::new();
                            if let Some(d) = disposition {
                                extra.push(("response-content-disposition".into(), encode_query(d)));
                            }
                            if let Some(t) = content_type {
                                extra.push(("response-content-type".into(), encode_query(t)));
                            }
                            if let Some(v) = version {
                                extra.push(("versionId".into(), encode_query(v)));
                            }
                            let query: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
                            let url = if query.is_empty() {
                                base.clone()
                            } else {
                                format!("{base}?{}", query.join("&"))
                            };
                            let (mut expected, signature) =
                                reference_for(name, &url, with_token, "us-east-1", now, 600);
                            expected.retain(|(k, _)| k != "X-Amz-Signature");
                            expected.extend(extra);
                            expected.sort();
                            let (our_base, our_query) = ours.split_once('?').unwrap();
                            assert_eq!(our_base, base);
                            let (params, our_signature) = our_query.rsplit_once("&X-Amz-Signature=").unwrap();
                            assert_eq!(
                                our_signature, signature,
                                "{name} {key:?} {disposition:?} {content_type:?}: {ours}"
                            );
                            let mut ours_sorted: Vec<(String, String)> = params
                                .split('&')
                                .map(|p| {
                                    let (k, v) = p.split_once('=').unwrap();
                                    (k.to_owned(), v.to_owned())
                                })
                                .collect();
                            ours_sorted.sort();
                            assert_eq!(ours_sorted, expected, "{ours}");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 2 * 2 * 4 * 3 * 2);
}
