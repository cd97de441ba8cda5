//! Our presigned URLs against an independent S3 server: `s3s-fs` (the `s3s` crate's file-system
//! backend) verifies SigV4 query-string signatures with its own implementation. Objects are put
//! with `aws-sdk-s3` (a third, independent signer), then fetched through URLs from our presigner.
//!
//! The binary is found at `$S3S_FS_BIN`, else `<workspace>/.tools/bin/s3s-fs`; `scripts/bootstrap.sh`
//! installs it. Without it these tests fail (they never skip).
//!
//! What `s3s-fs` 0.14.1 cannot store, because it maps a key to the file `<root>/<bucket>/<key>`
//! (each found by trying it):
//! - `//` in a key collapses to `/` (`a//b` is the file `a/b`), so `a//b` and `a/b` are one
//!   object. The server still verifies the signature over the path as sent, so one `//` key is
//!   fetched here (its bytes are those of the collapsed path).
//! - a key starting with `/` is refused (PUT and GET answer 500: the path leaves the bucket).
//! - a key ending in `/` is a directory, not an object (PUT with a body fails, GET is 404).
//! - through `aws-sdk-s3`, a key longer than about 150 bytes: s3s-fs writes a side file named
//!   `.bucket-<base64 bucket>.object-<base64 key>.internal.json`, which then exceeds Linux's
//!   255-byte `NAME_MAX` (PUT answers 500 after writing the data). So the 1,024-byte key below is
//!   written straight into the server's root directory, split into segments under 255 bytes, and
//!   only fetched (GET does not need the side file).
//!
//! `presign_reference.rs` covers `//`, leading and trailing `/`, and 1,024-byte keys of every
//! shape against aws-sigv4. Trailing spaces, `+`, `%`, `#`, `?`, `=`, `&`, `~`, unicode (4-byte included) are all stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region as SdkRegion};
use aws_sdk_s3::primitives::ByteStream;
use shared::domain::presign::{
    CustomEndpoint, Delivery, Method, PresignRequest, Presigner, S3Endpoint, SigningCredentials,
};
use shared::{BucketName, ObjectKey, Region};
use std::time::{Duration, SystemTime};

const ACCESS_KEY: &str = "AKIAS3SFSTESTKEY0001";
const SECRET_KEY: &str = "s3s/fs+Secret/Key=ForPresignTests0123456";
const BUCKET: &str = "presign-test-bucket";

// ---------------------------------------------------------------------------------------------
// The server.

#[path = "support/s3s_fs.rs"]
mod s3s_fs;

/// The server with this file's key pair, and the clients that talk to it.
struct S3sFs(s3s_fs::S3sFsProcess);

impl std::ops::Deref for S3sFs {
    type Target = s3s_fs::S3sFsProcess;
    fn deref(&self) -> &s3s_fs::S3sFsProcess {
        &self.0
    }
}

impl S3sFs {
    fn start() -> Self {
        Self(s3s_fs::S3sFsProcess::start(ACCESS_KEY, SECRET_KEY))
    }

    fn sdk_client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(SdkRegion::new("us-east-1"))
            .endpoint_url(self.endpoint_url())
            .force_path_style(true)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "s3s-fs-test"))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    fn presigner(&self) -> Presigner {
        Presigner::new(S3Endpoint::Custom(CustomEndpoint::parse(&self.endpoint_url(), false).unwrap()))
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn credentials() -> SigningCredentials {
    SigningCredentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        session_token: None,
    }
}

fn presign(server: &S3sFs, key: &str, now: SystemTime, expires_in_secs: u32) -> String {
    let presigner = server.presigner();
    let signer = presigner.batch(&credentials(), Region::parse("us-east-1").unwrap(), now);
    let bucket = BucketName::parse(BUCKET).unwrap();
    let key = ObjectKey::parse(key).unwrap_or_else(|e| panic!("{key:?}: {e}"));
    signer.presign(&PresignRequest { bucket: &bucket, key: &key, version_id: None, expires_in_secs })
}

/// Distinct bytes per key, with every byte value in them.
fn body_for(key: &str) -> Vec<u8> {
    let mut body = format!("object {key:?}\n").into_bytes();
    body.extend(0u8..=255);
    body.extend_from_slice(key.as_bytes());
    body
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap()
}

/// Keys put through aws-sdk-s3. Each is a distinct file for s3s-fs.
const SDK_KEYS: &[&str] = &[
    "plain.txt",
    "with space.txt",
    " leading space.txt",
    "trailing space.txt ",
    "  two  spaces  ",
    "a+b.txt",
    "+",
    "100%.txt",
    "%25 is not a space.txt",
    "%2F stays literal",
    "hash#tag.txt",
    "question?.txt",
    "a=b&c=d.txt",
    "?versionId=not-a-version",
    "tilde~file~.txt",
    "nested/dir/deeper/file (2).jpg",
    "datasets/2026/batch-0042/images/img_000123 copy (2).jpg",
    "café/日本語/ファイル 😀.txt",
    "𝄞 music/🦀 crab.png",
    "e\u{301}t\u{301}e\u{301} combining",
    "!$'()*,;:@[]{}|^`<>\"\\.txt",
    "...",
    "dots/.../..../x",
    ".hidden",
    "x/ /y z",
];

/// A key of exactly 1,024 bytes in segments under 255 bytes, with spaces, `+`, `%`, `#` and
/// 4-byte characters.
fn long_key() -> String {
    let segment = |fill: &str| {
        let mut s = String::from("seg +%#= ");
        while s.len() + fill.len() <= 200 {
            s.push_str(fill);
        }
        s
    };
    let mut key = [segment("😀"), segment("é"), segment("a b"), segment("日本"), segment("~")].join("/");
    key.push('/');
    while key.len() < 1024 {
        key.push('x');
    }
    assert_eq!(key.len(), 1024);
    assert!(key.split('/').all(|s| s.len() < 255));
    key
}

async fn put_with_sdk(client: &aws_sdk_s3::Client, key: &str) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body_for(key)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("aws-sdk-s3 could not put {key:?} into s3s-fs: {e:?}"));
}

fn write_file_into_root(server: &S3sFs, key: &str) {
    let path = server.data_dir().join(BUCKET).join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body_for(key)).unwrap();
}

async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let response = http_client().get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap().to_vec();
    (status, body)
}

async fn server_with_bucket() -> (S3sFs, aws_sdk_s3::Client) {
    let server = S3sFs::start();
    let client = server.sdk_client();
    client
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_or_else(|e| panic!("aws-sdk-s3 could not create the bucket: {e:?}\n{}", server.log()));
    (server, client)
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn every_tricky_key_is_served_with_its_exact_bytes_through_our_presigned_url() {
    let (server, client) = server_with_bucket().await;
    for key in SDK_KEYS {
        put_with_sdk(&client, key).await;
    }
    let long = long_key();
    write_file_into_root(&server, &long);

    let now = SystemTime::now();
    let mut failures = Vec::new();
    for key in SDK_KEYS.iter().copied().chain([long.as_str()]) {
        let url = presign(&server, key, now, 900);
        let (status, body) = fetch(&url).await;
        if status != 200 {
            failures.push(format!("{key:?}: HTTP {status} for {url}\n{}", String::from_utf8_lossy(&body)));
        } else if body != body_for(key) {
            failures.push(format!("{key:?}: HTTP 200 but other bytes ({} bytes) for {url}", body.len()));
        }
    }
    assert!(
        failures.is_empty(),
        "s3s-fs refused or misserved:\n{}\n\nserver log:\n{}",
        failures.join("\n"),
        server.log()
    );
}

#[tokio::test]
async fn a_key_with_a_double_slash_is_verified_over_the_path_as_signed() {
    // s3s-fs stores `dir//file` as the file `dir/file`, so the bytes are that file's; the point
    // is that the server accepts our signature over the path with `//` kept.
    let (server, client) = server_with_bucket().await;
    put_with_sdk(&client, "dir/file.txt").await;
    let url = presign(&server, "dir//file.txt", SystemTime::now(), 900);
    assert!(url.contains("/dir//file.txt?"), "{url}");
    let (status, body) = fetch(&url).await;
    assert_eq!(status, 200, "{url}\n{}", String::from_utf8_lossy(&body));
    assert_eq!(body, body_for("dir/file.txt"));
}

#[tokio::test]
async fn a_url_with_one_signature_digit_changed_is_refused() {
    let (server, client) = server_with_bucket().await;
    let key = "with space+plus.txt";
    put_with_sdk(&client, key).await;
    let url = presign(&server, key, SystemTime::now(), 900);
    let (status, _) = fetch(&url).await;
    assert_eq!(status, 200, "the untouched URL must work: {url}");

    let mut tampered = url.into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (status, body) = fetch(&tampered).await;
    assert_eq!(status, 403, "{tampered}\n{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("SignatureDoesNotMatch"));
}

#[tokio::test]
async fn a_url_for_another_key_than_was_signed_is_refused() {
    let (server, client) = server_with_bucket().await;
    put_with_sdk(&client, "a b.txt").await;
    put_with_sdk(&client, "a+b.txt").await;
    let url = presign(&server, "a b.txt", SystemTime::now(), 900);
    let swapped = url.replacen("/a%20b.txt?", "/a%2Bb.txt?", 1);
    assert_ne!(url, swapped);
    let (status, _) = fetch(&swapped).await;
    assert_eq!(status, 403, "{swapped}");
}

#[tokio::test]
async fn an_expired_url_is_refused() {
    let (server, client) = server_with_bucket().await;
    let key = "expired.txt";
    put_with_sdk(&client, key).await;
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    let url = presign(&server, key, two_hours_ago, 60);
    let (status, body) = fetch(&url).await;
    assert_eq!(status, 403, "{url}\n{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("AccessDenied"), "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn a_url_signed_with_another_secret_is_refused() {
    let (server, client) = server_with_bucket().await;
    let key = "secret.txt";
    put_with_sdk(&client, key).await;
    let presigner = server.presigner();
    let wrong = SigningCredentials { secret_access_key: format!("{SECRET_KEY}x"), ..credentials() };
    let signer = presigner.batch(&wrong, Region::parse("us-east-1").unwrap(), SystemTime::now());
    let bucket = BucketName::parse(BUCKET).unwrap();
    let key = ObjectKey::parse(key).unwrap();
    let url = signer.presign(&PresignRequest {
        bucket: &bucket,
        key: &key,
        version_id: None,
        expires_in_secs: 900,
    });
    let (status, _) = fetch(&url).await;
    assert_eq!(status, 403, "{url}");
}

// ---------------------------------------------------------------------------------------------
// Delivery: the method a URL is for, Range, and the response headers it asks for.

fn presign_for(server: &S3sFs, key: &str, delivery: &Delivery<'_>) -> String {
    let presigner = server.presigner();
    let signer = presigner.batch(&credentials(), Region::parse("us-east-1").unwrap(), SystemTime::now());
    let bucket = BucketName::parse(BUCKET).unwrap();
    let key = ObjectKey::parse(key).unwrap();
    signer.presign_with(
        &PresignRequest { bucket: &bucket, key: &key, version_id: None, expires_in_secs: 300 },
        delivery,
    )
}

#[tokio::test]
async fn a_range_request_through_a_presigned_url_answers_206_with_exactly_those_bytes() {
    let (server, client) = server_with_bucket().await;
    put_with_sdk(&client, "video.webm").await;
    let url = presign(&server, "video.webm", SystemTime::now(), 300);
    let response = http_client().get(&url).header("Range", "bytes=10-19").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 206);
    let expected = body_for("video.webm");
    assert_eq!(response.bytes().await.unwrap().as_ref(), &expected[10..20]);
}

#[tokio::test]
async fn a_url_presigned_for_head_answers_the_size_and_a_get_url_is_refused_for_head() {
    let (server, client) = server_with_bucket().await;
    put_with_sdk(&client, "plain.txt").await;
    let head = presign_for(&server, "plain.txt", &Delivery { method: Method::Head, ..Delivery::GET });
    let answer = http_client().head(&head).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{head}");
    let length = answer.headers().get("content-length").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(length, body_for("plain.txt").len().to_string());

    let get = presign(&server, "plain.txt", SystemTime::now(), 300);
    assert_eq!(
        http_client().head(&get).send().await.unwrap().status().as_u16(),
        403,
        "a GET URL is not a HEAD URL"
    );
    assert_eq!(
        http_client().get(&head).send().await.unwrap().status().as_u16(),
        403,
        "nor the other way round"
    );
}

#[tokio::test]
async fn response_headers_asked_for_arrive_as_asked_and_are_signed_so_changing_one_is_refused() {
    let (server, client) = server_with_bucket().await;
    put_with_sdk(&client, "plain.txt").await;
    let name = shared::domain::delivery::DownloadName::parse("Ünïcødé \"report\"; v2.txt").unwrap();
    let delivery = Delivery {
        content_disposition: Some(name.header()),
        content_type: Some("text/plain"),
        ..Delivery::GET
    };
    let url = presign_for(&server, "plain.txt", &delivery);
    let answer = http_client().get(&url).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{url}");
    let header =
        |name: &str| answer.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(
        header("content-disposition"),
        name.header(),
        "download_as arrives as the response's Content-Disposition"
    );
    assert_eq!(header("content-type"), "text/plain");
    let tampered = url.replace("response-content-type=text%2Fplain", "response-content-type=text%2Fhtml");
    assert_ne!(tampered, url);
    assert_eq!(http_client().get(&tampered).send().await.unwrap().status().as_u16(), 403);
}
