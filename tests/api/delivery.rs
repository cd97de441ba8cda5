//! Delivery through presigned URLs (issue 14): what a URL that `POST /presign` hands out does when
//! it is used over real HTTP — a byte range, HEAD, the response headers signed into it — and that
//! using it for another method, or changing what was signed, is refused.
//!
//! Unlike the presign suite, the URLs here point at (and are fetched from) the test's own
//! IAM-enforcing moto, the one whose STS issued the credentials that sign them: only it knows their
//! secret, so only it can check their signatures. moto 5.2.5 itself answers every presigned request
//! with 500 while it enforces IAM (its authorizer reads the `Authorization` header) and checks no
//! signature at all without enforcement; the project's launcher verifies SigV4 query signatures
//! while IAM is enforced, then authorizes the request as the URL's signer
//! (`scripts/moto_server.py::patch_s3_presigned_urls`, proven in `scripts/test_moto_launcher.py`).
//! So every URL below is also authorized by the role's access policy exactly as the API renders it.

use crate::helpers::*;
use crate::moto::MotoProcess;
use crate::platform::*;
use serde_json::{json, Value};

const KEY: &str = "reports/2026/q1.pdf";
const BODY: &[u8] = b"0123456789abcdefghijKLMNOPQRST-the rest of the object";

/// A platform whose presigned URLs point at its own enforcing moto, with one object in a bucket
/// its integration (a role with the rendered trust and access policies) serves; enforcement on.
/// Also the bucket.
async fn delivering() -> (Platform, String) {
    let moto = MotoProcess::start().await;
    let endpoint = moto.url.clone();
    let p = Platform::start_on(moto, |options| options.s3_endpoint = endpoint).await;
    let bucket = p.bucket("delivery").await;
    p.put(&bucket, KEY, BODY).await;
    let scope = default_scope(&[&bucket]);
    let access = p.access_policy(&scope, false).await;
    let role = p.moto.create_role("platform-read", &p.trust, &access).await;
    p.save_integration("Delivery", &role, &scope, false, "us-east-1").await;
    p.enforce().await;
    (p, bucket)
}

/// `POST /presign` with `body` as a member; the one result's URL (panics on an error result).
async fn presigned(p: &Platform, body: Value) -> String {
    let reply = bounded("POST /presign", p.app.post("/presign", &member(ORG), &body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let result = &reply.body["results"][0];
    let url = result["url"].as_str().unwrap_or_else(|| panic!("no URL in {result}")).to_owned();
    assert!(url.starts_with(&format!("{}/", p.moto.url)), "the URL points at the enforcing moto: {url}");
    url
}

async fn presigned_get(p: &Platform, bucket: &str) -> String {
    presigned(p, json!({"locators": [format!("s3://{bucket}/{KEY}")]})).await
}

async fn presigned_head(p: &Platform, bucket: &str) -> String {
    presigned(p, json!({"locators": [format!("s3://{bucket}/{KEY}")], "method": "HEAD"})).await
}

/// The status, headers and body of `method` on `url`, with `headers`, and nothing signed by the
/// client: the URL is all the authority it has.
async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = bounded("the presigned URL", request.send()).await.expect("the emulator answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.expect("body").to_vec())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap_or_else(|| panic!("no {name} in {headers:?}")).to_str().unwrap()
}

/// S3's error code in an XML error body.
fn s3_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split("<Code>").nth(1).and_then(|rest| rest.split("</Code>").next()).unwrap_or("").to_owned()
}

/// `url` with its query parameter `name` set to `value` (percent-encoded as SigV4 encodes), every
/// other parameter left byte for byte as it was.
fn with_parameter(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let prefix = format!("{name}=");
    let mut parts: Vec<String> =
        query.split('&').filter(|part| !part.starts_with(&prefix)).map(str::to_owned).collect();
    let encoded: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    parts.push(format!("{name}={encoded}"));
    format!("{base}?{}", parts.join("&"))
}

fn parameter(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_range_request_through_a_presigned_url_returns_206_with_exactly_those_bytes_and_their_content_range(
) {
    let (p, bucket) = delivering().await;
    let url = presigned_get(&p, &bucket).await;

    let (status, headers, body) = send("GET", &url, &[("Range", "bytes=10-19")]).await;
    assert_eq!(status, 206, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"abcdefghij");
    assert_eq!(header(&headers, "content-range"), format!("bytes 10-19/{}", BODY.len()));
    assert_eq!(header(&headers, "content-length"), "10");

    // The same URL without a range is the whole object: the range is the client's, not the URL's.
    let (status, _, body) = send("GET", &url, &[]).await;
    assert_eq!((status, body.as_slice()), (200, BODY));
}

#[tokio::test]
async fn a_url_presigned_for_head_answers_head_with_the_objects_content_length() {
    let (p, bucket) = delivering().await;
    let url = presigned_head(&p, &bucket).await;

    let (status, headers, body) = send("HEAD", &url, &[]).await;
    assert_eq!(status, 200, "{headers:?}");
    assert_eq!(header(&headers, "content-length"), BODY.len().to_string());
    assert!(body.is_empty());
}

#[tokio::test]
async fn a_url_presigned_for_get_is_refused_for_head_and_a_url_presigned_for_head_is_refused_for_get() {
    let (p, bucket) = delivering().await;
    let get = presigned_get(&p, &bucket).await;
    let head = presigned_head(&p, &bucket).await;
    // Each works for its own method, so what follows is the method, not the URL.
    assert_eq!(send("GET", &get, &[]).await.0, 200);
    assert_eq!(send("HEAD", &head, &[]).await.0, 200);

    let (status, _, body) = send("HEAD", &get, &[]).await;
    assert_eq!(status, 403, "a HEAD answer has no body to name the error: {body:?}");
    let (status, _, body) = send("GET", &head, &[]).await;
    assert_eq!((status, s3_code(&body).as_str()), (403, "SignatureDoesNotMatch"));
    // A ranged GET through the HEAD URL gets no bytes either.
    let (status, _, body) = send("GET", &head, &[("Range", "bytes=10-19")]).await;
    assert_eq!((status, s3_code(&body).as_str()), (403, "SignatureDoesNotMatch"));
}

#[tokio::test]
async fn a_locator_with_download_as_and_content_type_is_served_with_that_content_disposition_and_content_type(
) {
    let (p, bucket) = delivering().await;
    let locator = json!({
        "locator": format!("s3://{bucket}/{KEY}"),
        "download_as": "résumé \"final\"; v2.pdf",
        "content_type": "application/pdf",
    });
    let url = presigned(&p, json!({"locators": [locator]})).await;

    let (status, headers, body) = send("GET", &url, &[]).await;
    assert_eq!((status, body.as_slice()), (200, BODY));
    assert_eq!(
        header(&headers, "content-disposition"),
        "attachment; filename=\"r_sum_ _final_; v2.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B%20v2.pdf"
    );
    assert_eq!(header(&headers, "content-type"), "application/pdf");

    // A range through the same URL carries the same headers.
    let (status, headers, body) = send("GET", &url, &[("Range", "bytes=10-19")]).await;
    assert_eq!((status, body.as_slice()), (206, b"abcdefghij".as_slice()));
    assert_eq!(header(&headers, "content-type"), "application/pdf");
    assert!(header(&headers, "content-disposition").starts_with("attachment; filename=\"r_sum_"));
}

#[tokio::test]
async fn a_presigned_url_whose_response_headers_or_key_are_changed_is_refused_with_signature_does_not_match()
{
    let (p, bucket) = delivering().await;
    p.put(&bucket, "reports/2026/other.pdf", b"another object").await;
    let locator = json!({
        "locator": format!("s3://{bucket}/{KEY}"),
        "download_as": "report.pdf",
        "content_type": "application/pdf",
    });
    let url = presigned(&p, json!({"locators": [locator]})).await;
    assert_eq!(send("GET", &url, &[]).await.0, 200, "the URL as signed is served");
    assert_eq!(
        parameter(&url, "response-content-disposition").as_deref(),
        Some("attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf")
    );

    let tampered = [
        // Served inline instead of downloaded: a stored page would run in the bucket's origin.
        with_parameter(&url, "response-content-disposition", "inline"),
        with_parameter(&url, "response-content-disposition", "attachment; filename=\"invoice.exe\""),
        with_parameter(&url, "response-content-type", "text/html"),
        // A response header the API did not sign at all.
        with_parameter(&url, "response-cache-control", "public, max-age=31536000"),
        // The same signature for another object of the same bucket.
        url.replacen("/reports/2026/q1.pdf?", "/reports/2026/other.pdf?", 1),
    ];
    for attempt in tampered {
        assert_ne!(attempt, url);
        let (status, headers, body) = send("GET", &attempt, &[]).await;
        assert_eq!(
            (status, s3_code(&body).as_str()),
            (403, "SignatureDoesNotMatch"),
            "{attempt} was served: {headers:?}"
        );
    }
}

#[tokio::test]
async fn a_presigned_get_serves_any_range_of_its_own_object_and_no_byte_of_another() {
    let (p, bucket) = delivering().await;
    p.put(&bucket, "reports/2026/secret.pdf", b"secret bytes, never served").await;
    let url = presigned_get(&p, &bucket).await;
    for range in ["bytes=0-0", "bytes=-5", "bytes=50-"] {
        let (status, headers, body) = send("GET", &url, &[("Range", range)]).await;
        assert_eq!(status, 206, "{range}: {headers:?}");
        assert!(
            BODY.windows(body.len()).any(|w| w == body.as_slice()),
            "{range} served bytes that are not the object's: {body:?}"
        );
    }
    let other = url.replacen("/reports/2026/q1.pdf?", "/reports/2026/secret.pdf?", 1);
    let (status, _, body) = send("GET", &other, &[("Range", "bytes=0-5")]).await;
    assert_eq!((status, s3_code(&body).as_str()), (403, "SignatureDoesNotMatch"));
}
