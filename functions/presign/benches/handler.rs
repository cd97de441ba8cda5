//! Handler-level cost of `POST /presign` with warm caches: a 1,000-locator batch end to end, from
//! the API Gateway v2 event JSON Lambda hands the function to the response JSON it sends back,
//! against `aws-sdk-s3`'s `GetObject` presigning of the same 1,000 locators.
//!
//! Every criterion iteration of the handler does what one warm invocation does:
//! `lambda_http::request::from_str` on the event → `presign::handle_event`, which writes the API
//! Gateway v2 response envelope (status, headers, the JSON body as an escaped string) in one pass
//! → `serde_json::to_vec` of it, the bytes the runtime POSTs back. (Until the one-pass envelope,
//! `lambda_http` escaped the 1.5 MB body a second time: 1.0 µs per locator.) The org's integrations and the customer roles' credentials are primed
//! (`State::prime_org`, `CredentialCache::prime`), so the run makes no DynamoDB or STS call: both
//! clients point at a closed loopback port, and the checks after the run prove they were not used.
//!
//! The batch: 1,000 realistic locators over 3 integrations (an org default over 4 buckets, a
//! bucket scope in another region, a key-prefix scope), keys with spaces, `+`, `%`, `#` and
//! unicode, one in five with a `versionId`; credentials with a ~900-character session token that
//! expire in an hour. After the groups, a summary prints µs per locator (median over criterion's
//! samples), the ratio to aws-sdk-s3, the targets, and where a handler batch spends its time.
//!
//! Stable links: `GET /l/{token}` is the hot path of a page full of images. The same state makes
//! links for 200 of the batch's locators (`POST /links`), and one warm hit (event JSON → 307
//! envelope bytes, a link checked, resolved and its URL signed) is timed per link, next to the
//! batch's per-locator figure and aws-sdk-s3's presign of one URL.
//!
//! Run: `cargo bench -p presign --bench handler`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../../shared/benches/support/mod.rs"]
mod support;

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};
use serde_json::{json, Value};
use shared::aws::credentials::{CacheConfig, CredentialCache, TempCredentials};
use shared::domain::external_id::ExternalId;
use shared::domain::external_id::ExternalIdProof;
use shared::domain::integration::{Access, AwsRole, Integration, Status};
use shared::domain::org::OrgId;
use shared::domain::presign::{PresignRequest, Presigner, S3Endpoint, SigningCredentials};
use shared::domain::scope::resolve;
use shared::{BucketName, KeyPrefix, Locator, Region, RoleArn, S3Locator, Scope};

/// The stable-link signing keys of the benchmark's state.
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use support::Rng;

const BATCH: usize = 1_000;
const ORG: &str = "acme";
const EXPIRES_SECS: u32 = 900;
const GROUP: &str = "presign_handler_1k_locators";
/// Where the DynamoDB and STS clients point: nothing listens there, and nothing may call it.
const NOWHERE: &str = "http://127.0.0.1:9";

const HANDLER: &str = "handler_event_to_response_json";
const AWS_SDK_S3: &str = "aws_sdk_s3_presigned";
const LINK_HIT: &str = "stable_link_hit_event_to_307";
/// Links followed in the redirect benchmark (cycled through).
const LINKS: usize = 200;

const TARGET_US_PER_LOCATOR: f64 = 2.7;
const TARGET_VS_SDK: f64 = 14.0;

// ---------------------------------------------------------------------------------------------
// Inputs.

const DEFAULT_BUCKETS: [&str; 4] = ["acme-archive", "acme-ml-datasets", "acme-raw-ingest", "acme-reports"];
const PHOTOS_BUCKET: &str = "acme-user-photos";
const BATCH_PREFIX: &str = "datasets/2026/batch-004";

/// One integration of the org as the bench sets it up; the credentials it signs with.
struct Setup {
    integration: Integration,
    access_key_id: &'static str,
}

fn integrations() -> Vec<Setup> {
    let bucket = |b: &str| BucketName::parse(b).unwrap();
    // Steady state: validation recorded that each role demands the org's external ID, so no
    // lease needs a probe.
    let make = |id: &str, name: &str, role: &str, region: &str, scope: Scope| Integration {
        id: id.to_owned(),
        name: name.to_owned(),
        external_id_proof: Some(ExternalIdProof::new(
            &RoleArn::parse(role).unwrap(),
            true,
            SystemTime::now(),
        )),
        access: Access::AwsRole(AwsRole {
            role_arn: RoleArn::parse(role).unwrap(),
            region: Region::parse(region).unwrap(),
            kms_key_arns: Vec::new(),
        }),
        scope,
        versioning: true,
        version: 3,
        created_at: "2026-01-12T09:30:00Z".to_owned(),
        updated_at: "2026-03-02T16:05:41Z".to_owned(),
        status: Status::unverified(),
    };
    vec![
        Setup {
            integration: make(
                "01JHZ8K4Q6W2M9T7R3N5DEFA01",
                "acme default",
                "arn:aws:iam::210987654321:role/platform-read",
                "us-east-1",
                Scope::default_for(DEFAULT_BUCKETS.iter().map(|b| bucket(b)).collect()).unwrap(),
            ),
            access_key_id: "ASIAQEXAMPLEDEFAULT1",
        },
        Setup {
            integration: make(
                "01JHZ8K4Q6W2M9T7R3N5PHOT02",
                "user photos (EU)",
                "arn:aws:iam::210987654321:role/platform-read-photos",
                "eu-west-1",
                Scope::Bucket { bucket: bucket(PHOTOS_BUCKET), prefix: None },
            ),
            access_key_id: "ASIAQEXAMPLEPHOTOS02",
        },
        Setup {
            integration: make(
                "01JHZ8K4Q6W2M9T7R3N5BTCH03",
                "2026 batches 40-49",
                "arn:aws:iam::210987654321:role/platform-read-batches",
                "us-east-1",
                Scope::Bucket {
                    bucket: bucket("acme-ml-datasets"),
                    prefix: Some(KeyPrefix::parse(BATCH_PREFIX).unwrap()),
                },
            ),
            access_key_id: "ASIAQEXAMPLEBATCHES3",
        },
    ]
}

fn version_id(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    (0..32).map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())])).collect()
}

/// 1,000 locators shaped like the platform's: datasets, user photos, reports, checkpoints; some
/// with spaces, parentheses, `+`, `%`, `#` and unicode; one in five pinned to a version.
fn realistic_locators() -> Vec<String> {
    let mut rng = Rng(0x0BAD_5EED_2026_0042);
    let names = ["jöhn.doe", "maría", "zoë", "李雷", "o'brien", "team+ml"];
    (0..BATCH)
        .map(|i| {
            let base = match rng.below(10) {
                0..=4 => format!(
                    "s3://acme-ml-datasets/datasets/2026/batch-{:04}/images/img_{:06}{}.jpg",
                    rng.below(100),
                    i,
                    [" copy (2)", "", "_thumb", " final"][rng.below(4)]
                ),
                5 | 6 => format!(
                    "s3://{PHOTOS_BUCKET}/users/{}/Photos/Été 2025/IMG_{:04}.HEIC",
                    names[rng.below(names.len())],
                    rng.below(10_000)
                ),
                7 => format!(
                    "s3://acme-reports/reports/Q{} 2026/résumé – final (v{}) #{}.pdf",
                    1 + rng.below(4),
                    rng.below(9),
                    i
                ),
                8 => format!("s3://acme-archive/models/checkpoint-{i:05}/weights+bias 100%.safetensors"),
                _ => format!("s3://acme-raw-ingest/日本/写真/{i:06} 🌸.png"),
            };
            if rng.below(5) == 0 {
                format!("{base}?versionId={}", version_id(&mut rng))
            } else {
                base
            }
        })
        .collect()
}

fn signing_credentials(setup: &Setup, seed: u64) -> SigningCredentials {
    SigningCredentials {
        access_key_id: setup.access_key_id.to_owned(),
        secret_access_key: format!("tK3/+Yz9uV2wXa8Bq/EXAMPLE+SECRET/kEyZz{seed:02}"),
        session_token: Some(support::session_token(0x5EED_7043_E000_0002 + seed)),
    }
}

/// `events/presign.json` with the batch as its body: what API Gateway hands the function.
/// `POST /links` for `locators`, from the same member as the presign event.
fn links_event_json(locators: &[String]) -> String {
    let mut event: Value = serde_json::from_str(&event_json(locators)).unwrap();
    event["routeKey"] = json!("POST /links");
    event["requestContext"]["routeKey"] = json!("POST /links");
    event["rawPath"] = json!("/links");
    event["requestContext"]["http"]["path"] = json!("/links");
    event["body"] = Value::String(json!({ "locators": locators }).to_string());
    event.to_string()
}

/// `GET /l/{token}` as API Gateway sends it for a route without an authorizer.
fn follow_event_json(token: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/links-follow.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(event["requestContext"].get("authorizer").is_none(), "the link route has no authorizer");
    let path = format!("/l/{token}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["pathParameters"] = json!({ "token": token });
    event.to_string()
}

fn event_json(locators: &[String]) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/presign.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body = json!({"locators": locators, "expires_in": EXPIRES_SECS}).to_string();
    event["body"] = Value::String(body);
    assert_eq!(event["requestContext"]["authorizer"]["jwt"]["claims"]["org_id"], ORG);
    assert_eq!(event["requestContext"]["authorizer"]["jwt"]["claims"]["role"], "[member]");
    event.to_string()
}

// ---------------------------------------------------------------------------------------------
// The function's state, warm.

fn nowhere_sts() -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(NOWHERE)
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "AKIDPLATFORM",
            "secret",
            None,
            None,
            "bench",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

struct Warm {
    state: presign::State,
    org: OrgId,
    external_id: ExternalId,
    setups: Vec<Setup>,
    credentials: Vec<TempCredentials>,
}

impl Warm {
    fn new() -> Self {
        // The org cache outlives the run; `prime` refills it before every sample anyway.
        let config = common::config(&[("INTEGRATION_CACHE_SECONDS", "300")]);
        assert_eq!(config.s3_endpoint, S3Endpoint::Aws);
        let store = std::sync::Arc::new(shared::aws::store::MemoryStore::new());
        let cache = CredentialCache::new(nowhere_sts(), CacheConfig::default());
        let setups = integrations();
        let expires_at = SystemTime::now() + Duration::from_secs(3600);
        let credentials = setups
            .iter()
            .enumerate()
            .map(|(i, s)| TempCredentials { signing: signing_credentials(s, i as u64), expires_at })
            .collect();
        Self {
            state: presign::State::new(
                store,
                cache,
                std::sync::Arc::new(shared::aws::secrets::MemorySealer::new()),
                config,
            ),
            org: OrgId::parse(ORG).unwrap(),
            external_id: ExternalId::parse("acme-7f3c9e1a-52d4-4b8e-9c61-0d2f8a4b6e93").unwrap(),
            setups,
            credentials,
        }
    }

    /// What a first invocation would have left in process state: the org's integrations and
    /// external ID, and credentials for every role.
    async fn prime(&self) {
        let integrations = self.setups.iter().map(|s| s.integration.clone()).collect();
        self.state.prime_org(&self.org, integrations, Some(self.external_id.clone())).await;
        for (setup, credentials) in self.setups.iter().zip(&self.credentials) {
            self.state
                .credentials()
                .prime_for_integration(
                    &self.org,
                    &setup.integration.id,
                    setup.integration.role_arn().unwrap().as_str(),
                    &self.external_id,
                    credentials.clone(),
                )
                .await;
        }
    }
}

/// One warm invocation as the deployed binary runs it: the event JSON parsed as the runtime parses
/// it, `presign::handle_event` (which writes the API Gateway v2 envelope itself), and the bytes the
/// runtime POSTs back (`serde_json::to_vec` of that envelope, as lambda_runtime does).
async fn invoke(state: &presign::State, event: &str) -> String {
    let request = lambda_http::request::from_str(event).unwrap();
    let envelope = presign::handle_event(state, request).await;
    String::from_utf8(serde_json::to_vec(&envelope).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// aws-sdk-s3: one client per integration (its region, its role's credentials).

struct SdkTarget {
    client: usize,
    bucket: String,
    key: String,
    version_id: Option<String>,
}

fn sdk_clients(warm: &Warm) -> Vec<aws_sdk_s3::Client> {
    warm.setups
        .iter()
        .zip(&warm.credentials)
        .map(|(setup, credentials)| {
            let c = &credentials.signing;
            let config = aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new(region_of(&setup.integration).as_str()))
                .credentials_provider(aws_sdk_s3::config::Credentials::new(
                    c.access_key_id.clone(),
                    c.secret_access_key.clone(),
                    c.session_token.clone(),
                    Some(credentials.expires_at),
                    "bench",
                ))
                .build();
            aws_sdk_s3::Client::from_conf(config)
        })
        .collect()
}

fn sdk_targets(warm: &Warm, locators: &[String]) -> Vec<SdkTarget> {
    let integrations: Vec<Integration> = warm.setups.iter().map(|s| s.integration.clone()).collect();
    locators
        .iter()
        .map(|text| {
            let Ok(Locator::S3(locator)) = Locator::parse(text) else { panic!("not an s3 locator: {text}") };
            let winner = resolve(&integrations, &locator).unwrap();
            SdkTarget {
                client: integrations.iter().position(|i| i.id == winner.id).unwrap(),
                bucket: locator.bucket.as_str().to_owned(),
                key: locator.key.as_str().to_owned(),
                version_id: locator.version_id.as_ref().map(|v| v.as_str().to_owned()),
            }
        })
        .collect()
}

async fn sdk_presign(
    clients: &[aws_sdk_s3::Client],
    target: &SdkTarget,
    config: &aws_sdk_s3::presigning::PresigningConfig,
) -> String {
    clients[target.client]
        .get_object()
        .bucket(&target.bucket)
        .key(&target.key)
        .set_version_id(target.version_id.clone())
        .presigned(config.clone())
        .await
        .unwrap()
        .uri()
        .to_owned()
}

/// The batch as `handle` signs it: per integration, its credentials, its region, its locators.
fn signer_input(warm: &Warm, locators: &[String]) -> Vec<(SigningCredentials, Region, Vec<S3Locator>)> {
    let integrations: Vec<Integration> = warm.setups.iter().map(|s| s.integration.clone()).collect();
    let mut groups: Vec<Vec<S3Locator>> = vec![Vec::new(); integrations.len()];
    for text in locators {
        let Ok(Locator::S3(locator)) = Locator::parse(text) else { panic!("not an s3 locator: {text}") };
        let winner = resolve(&integrations, &locator).unwrap();
        groups[integrations.iter().position(|i| i.id == winner.id).unwrap()].push(locator);
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(i, group)| (warm.credentials[i].signing.clone(), region_of(&integrations[i]), group))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The summary's breakdown and checks (the timings themselves: support::record).

static BREAKDOWN: Mutex<Vec<(&'static str, f64)>> = Mutex::new(Vec::new());
static CHECKS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn url_base(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

// ---------------------------------------------------------------------------------------------
// Checks before measuring: the handler answers 1,000 URLs, they address what aws-sdk-s3
// addresses, and nothing reached DynamoDB or STS.

fn check_handler_output(
    bytes: &str,
    locators: &[String],
    sdk_urls: &[String],
    setups: &[Setup],
) -> BTreeMap<String, usize> {
    let envelope: Value = serde_json::from_str(bytes).unwrap();
    assert_eq!(envelope["statusCode"], 200, "{envelope}");
    assert_eq!(envelope["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), BATCH, "one result per locator");
    let mut per_integration = BTreeMap::new();
    for ((result, locator), sdk_url) in results.iter().zip(locators).zip(sdk_urls) {
        assert_eq!(result["locator"], locator.as_str(), "results keep the input order");
        assert!(result.get("error").is_none(), "{result}");
        let url = result["url"].as_str().unwrap_or_else(|| panic!("no url: {result}"));
        assert!(url.starts_with("https://"), "{url}");
        for param in ["X-Amz-Signature=", "X-Amz-Security-Token=", "X-Amz-Expires=900", "X-Amz-Credential="] {
            assert!(url.contains(param), "{param} missing from {url}");
        }
        assert_eq!(locator.contains("?versionId="), url.contains("versionId="), "{url}");
        assert_eq!(url_base(url), url_base(sdk_url), "ours and aws-sdk-s3 address different objects");
        assert!(result["expires_at"].as_str().is_some_and(|s| s.ends_with('Z')), "{result}");
        let id = result["integration_id"].as_str().unwrap();
        let setup = setups.iter().find(|s| s.integration.id == id).unwrap();
        assert!(url.contains(setup.access_key_id), "signed with the wrong role's credentials: {url}");
        *per_integration.entry(setup.integration.name.clone()).or_default() += 1;
    }
    per_integration
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.

fn bench_handler(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let warm = runtime.block_on(async {
        let warm = Warm::new();
        warm.prime().await;
        warm
    });
    let locators = realistic_locators();
    let event = event_json(&locators);

    let clients = sdk_clients(&warm);
    let targets = sdk_targets(&warm, &locators);
    let presigning_config =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(u64::from(EXPIRES_SECS)))
            .unwrap();

    // Sanity: 1,000 results with URLs, the same objects aws-sdk-s3 signs, no AWS call.
    {
        let bytes = runtime.block_on(invoke(&warm.state, &event));
        let sdk_urls: Vec<String> = runtime.block_on(async {
            let mut urls = Vec::with_capacity(BATCH);
            for target in &targets {
                urls.push(sdk_presign(&clients, target, &presigning_config).await);
            }
            urls
        });
        let per_integration = check_handler_output(&bytes, &locators, &sdk_urls, &warm.setups);
        let versioned = locators.iter().filter(|l| l.contains("?versionId=")).count();
        let mut checks = CHECKS.lock().unwrap();
        checks.push(format!(
            "event {} KB in, response {} KB out; {} results, all with URLs ({versioned} versioned)",
            event.len() / 1024,
            bytes.len() / 1024,
            BATCH
        ));
        checks.push(format!(
            "per integration: {}",
            per_integration.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        ));
        checks.push("every URL addresses the same host and encoded path as aws-sdk-s3's".to_owned());
    }

    // Where a batch goes: the three stages timed apart over 200 warm batches.
    runtime.block_on(async {
        let (mut parse, mut handle, mut serialize) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..200 {
            let t0 = Instant::now();
            let request = lambda_http::request::from_str(black_box(&event)).unwrap();
            let t1 = Instant::now();
            let envelope = presign::handle_event(&warm.state, request).await;
            let t2 = Instant::now();
            black_box(serde_json::to_vec(&envelope).unwrap());
            let t3 = Instant::now();
            let us = |d: Duration| d.as_secs_f64() * 1e6 / BATCH as f64;
            parse.push(us(t1 - t0));
            handle.push(us(t2 - t1));
            serialize.push(us(t3 - t2));
        }
        // Two parts of `handle`, redone apart (the handler's internals are not reachable from here).
        let body = {
            let envelope: Value = serde_json::from_str(&invoke(&warm.state, &event).await).unwrap();
            serde_json::from_str::<Value>(envelope["body"].as_str().unwrap()).unwrap()
        };
        let (mut to_text, mut signing) = (Vec::new(), Vec::new());
        let signer_input = signer_input(&warm, &locators);
        let presigner = Presigner::new(S3Endpoint::Aws);
        for _ in 0..200 {
            let t0 = Instant::now();
            black_box(black_box(&body).to_string());
            to_text.push(t0.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
            let t0 = Instant::now();
            let now = SystemTime::now();
            for (credentials, region, group) in &signer_input {
                let signer = presigner.batch(credentials, *region, now);
                for locator in group {
                    black_box(signer.presign(&PresignRequest {
                        bucket: &locator.bucket,
                        key: &locator.key,
                        version_id: locator.version_id.as_ref(),
                        expires_in_secs: EXPIRES_SECS,
                    }));
                }
            }
            signing.push(t0.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
        }
        let mut breakdown = BREAKDOWN.lock().unwrap();
        breakdown.push((
            "event JSON → Request (lambda_http::request::from_str)",
            support::median(&parse).unwrap(),
        ));
        breakdown.push((
            "presign::handle_event (parse body, resolve, sign, write the envelope)",
            support::median(&handle).unwrap(),
        ));
        breakdown.push((
            "  in it, redone apart: SigV4 URLs alone (BatchSigner)",
            support::median(&signing).unwrap(),
        ));
        breakdown
            .push(("  in it, redone apart: results Value → body text", support::median(&to_text).unwrap()));
        breakdown.push((
            "envelope → the bytes the runtime sends (serde_json::to_vec)",
            support::median(&serialize).unwrap(),
        ));
    });

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(6));

    group.bench_function(BenchmarkId::from_parameter(HANDLER), |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                warm.prime().await; // outside the timing: keeps the caches warm however long the run
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(invoke(&warm.state, black_box(&event)).await.len());
                }
                let elapsed = start.elapsed();
                support::record(HANDLER, iters, BATCH, elapsed);
                elapsed
            })
        })
    });

    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function(BenchmarkId::from_parameter(AWS_SDK_S3), |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for target in &targets {
                        black_box(sdk_presign(&clients, target, &presigning_config).await.len());
                    }
                }
                let elapsed = start.elapsed();
                support::record(AWS_SDK_S3, iters, BATCH, elapsed);
                elapsed
            })
        })
    });
    group.finish();

    let stats = warm.state.credentials().stats();
    let assume_calls = stats.assume_calls.load(Ordering::Relaxed);
    let misses = stats.misses.load(Ordering::Relaxed) + stats.refreshes.load(Ordering::Relaxed);
    assert_eq!(assume_calls, 0, "the credential cache called STS during the run");
    CHECKS.lock().unwrap().push(format!(
        "credential cache: {} hits, {misses} misses, {assume_calls} STS calls; DynamoDB: every response was 200 \
         (a store call would have failed against {NOWHERE})",
        stats.hits.load(Ordering::Relaxed)
    ));
}

fn bench_link_hit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let warm = runtime.block_on(async {
        let warm = Warm::new();
        warm.prime().await;
        warm
    });
    let locators: Vec<String> = realistic_locators().into_iter().take(LINKS).collect();
    let made: Value = {
        let envelope: Value =
            serde_json::from_str(&runtime.block_on(invoke(&warm.state, &links_event_json(&locators))))
                .unwrap();
        assert_eq!(envelope["statusCode"], 200, "{envelope}");
        serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap()
    };
    let events: Vec<String> = made["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let link = r["link"].as_str().unwrap_or_else(|| panic!("no link: {r}"));
            follow_event_json(link.rsplit('/').next().unwrap())
        })
        .collect();
    // Sanity: every hit is a 307 to a URL for its own locator's object, signed now.
    let presigned: Value = {
        let envelope: Value =
            serde_json::from_str(&runtime.block_on(invoke(&warm.state, &event_json(&locators)))).unwrap();
        serde_json::from_str(envelope["body"].as_str().unwrap()).unwrap()
    };
    for (event, result) in events.iter().zip(presigned["results"].as_array().unwrap()) {
        let envelope: Value = serde_json::from_str(&runtime.block_on(invoke(&warm.state, event))).unwrap();
        assert_eq!(envelope["statusCode"], 307, "{envelope}");
        let location = envelope["headers"]["location"].as_str().unwrap();
        assert_eq!(url_base(location), url_base(result["url"].as_str().unwrap()), "the link's own object");
        assert!(envelope["headers"]["cache-control"].as_str().unwrap().starts_with("private, max-age="));
    }
    CHECKS.lock().unwrap().push(format!(
        "{LINKS} stable links: each hit answers 307 to its own object's URL, with Cache-Control"
    ));

    let mut group = c.benchmark_group("stable_link_hit");
    group.throughput(Throughput::Elements(1));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(6));
    group.bench_function(BenchmarkId::from_parameter(LINK_HIT), |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                warm.prime().await;
                let start = Instant::now();
                for i in 0..iters {
                    let event = &events[i as usize % LINKS];
                    black_box(invoke(&warm.state, black_box(event)).await.len());
                }
                let elapsed = start.elapsed();
                support::record(LINK_HIT, iters, 1, elapsed);
                elapsed
            })
        })
    });
    group.finish();
    assert_eq!(warm.state.credentials().stats().assume_calls.load(Ordering::Relaxed), 0, "no STS call");
}

fn print_summary() {
    let us = support::recorded_median;
    println!();
    println!("POST /presign, warm caches, batches of {BATCH} realistic locators over 3 integrations,");
    println!("~900-character session tokens (median over criterion's samples)");
    println!();
    for line in CHECKS.lock().unwrap().iter() {
        println!("check: {line}");
    }
    println!();
    println!(
        "{:<44} {:>14} {:>12} {:>14}",
        "implementation", "µs per locator", "ms per batch", "locators per s"
    );
    println!("{}", "-".repeat(87));
    for (id, label) in
        [(HANDLER, "handler: event JSON → response JSON"), (AWS_SDK_S3, "aws-sdk-s3 GetObject presigned()")]
    {
        match us(id) {
            Some(v) => println!("{label:<44} {v:>14.3} {:>12.2} {:>14.0}", v * BATCH as f64 / 1e3, 1e6 / v),
            None => println!("{label:<44} {:>14} {:>12} {:>14}", "not run", "-", "-"),
        }
    }
    if let Some(hit) = us(LINK_HIT) {
        println!(
            "{:<44} {hit:>14.3} {:>12} {:>14.0}",
            "stable link: GET /l/{token} → 307 (per hit)",
            "-",
            1e6 / hit
        );
        if let Some(batch) = us(HANDLER) {
            println!("  a hit costs {:.1}× a locator of a 1,000-locator presign batch", hit / batch);
        }
        if let Some(sdk) = us(AWS_SDK_S3) {
            println!("  a whole hit is {:.1}× faster than aws-sdk-s3 presigning its one URL", sdk / hit);
        }
    }
    println!();
    println!("handler breakdown (median of 200 batches timed apart, µs per locator):");
    for (stage, v) in BREAKDOWN.lock().unwrap().iter() {
        println!("  {stage:<58} {v:>8.3}");
    }
    println!();
    let verdict = |ok: bool| if ok { "meets target" } else { "MISSES target" };
    if let Some(ours) = us(HANDLER) {
        println!(
            "handler per locator: {ours:.3} µs — target ≤ {TARGET_US_PER_LOCATOR} µs: {}",
            verdict(ours <= TARGET_US_PER_LOCATOR)
        );
        if let Some(sdk) = us(AWS_SDK_S3) {
            let ratio = sdk / ours;
            println!(
                "handler vs aws-sdk-s3: {ratio:.1}× faster — target ≥ {TARGET_VS_SDK}×: {}",
                verdict(ratio >= TARGET_VS_SDK)
            );
        }
    }
}

criterion_group!(benches, bench_handler, bench_link_hit);

/// The allocator settings the presign function is deployed with (template.yaml): glibc keeps
/// freed memory instead of returning it to the kernel after every 1.5 MB answer. glibc reads them
/// at start-up, so the bench re-runs itself with them when they are missing.
const GLIBC_TUNABLES: &str =
    "glibc.malloc.trim_threshold=134217728:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=16777216";

fn main() {
    if std::env::var("GLIBC_TUNABLES").is_err() {
        let exe = std::env::current_exe().expect("own path");
        let status = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
            .status()
            .expect("re-run with the deployed allocator settings");
        std::process::exit(status.code().unwrap_or(1));
    }
    println!("allocator settings: GLIBC_TUNABLES={}", std::env::var("GLIBC_TUNABLES").unwrap_or_default());
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_summary();
}

fn region_of(integration: &Integration) -> Region {
    integration.access.aws_role().unwrap().region
}
