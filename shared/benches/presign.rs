//! µs per presigned URL: our presigner against `aws-sigv4` used directly and against
//! `aws-sdk-s3`'s `GetObject` presigning, over the same 10,000 realistic keys, with a realistic
//! ~900-character STS session token.
//!
//! Every criterion iteration signs the whole batch of 10,000 keys (`iter_custom`), so the figure
//! includes what a batch costs once (our `BatchSigner` derives its signing key once per batch, as
//! the service does). After the groups, a summary table prints µs per URL (median over criterion's
//! samples) and the speed-ups of ours against the two AWS implementations.
//!
//! Run: `cargo bench -p shared --bench presign`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
mod support;

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use shared::domain::presign::{PresignRequest, Presigner, S3Endpoint, SigningCredentials};
use shared::{BucketName, ObjectKey, Region};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::Rng;

const BATCH: usize = 10_000;
const BUCKET: &str = "acme-ml-datasets";
const REGION: &str = "us-east-1";
const EXPIRES_SECS: u32 = 3_600;
const GROUP: &str = "presign_10k_urls";

const OURS_BATCH: &str = "ours_batch_signer";
const OURS_PER_URL: &str = "ours_signer_per_url";
const AWS_SIGV4: &str = "aws_sigv4";
const AWS_SDK_S3: &str = "aws_sdk_s3_presigned";

// ---------------------------------------------------------------------------------------------
// Inputs.

/// 10,000 keys shaped like the platform's: datasets, user photos, reports; some with spaces,
/// parentheses, `+`, `%`, `#` and unicode.
fn realistic_keys() -> Vec<String> {
    let mut rng = Rng(0x0BAD_5EED_2026_0042);
    let names = ["jöhn.doe", "maría", "zoë", "李雷", "o'brien", "team+ml"];
    (0..BATCH)
        .map(|i| match rng.below(10) {
            0..=4 => format!(
                "datasets/2026/batch-{:04}/images/img_{:06}{}.jpg",
                rng.below(100),
                i,
                [" copy (2)", "", "_thumb", " final"][rng.below(4)]
            ),
            5 | 6 => format!(
                "users/{}/Photos/Été 2025/IMG_{:04}.HEIC",
                names[rng.below(names.len())],
                rng.below(10_000)
            ),
            7 => format!("reports/Q{} 2026/résumé – final (v{}) #{}.pdf", 1 + rng.below(4), rng.below(9), i),
            8 => format!("models/checkpoint-{:05}/weights+bias 100%.safetensors", i),
            _ => format!("日本/写真/{:06} 🌸.png", i),
        })
        .collect()
}

fn signing_credentials() -> SigningCredentials {
    SigningCredentials {
        access_key_id: "ASIAQEXAMPLE7TOKEN42".into(),
        secret_access_key: "tK3/+Yz9uV2wXa8Bq/EXAMPLE+SECRET/kEyZz09".into(),
        session_token: Some(support::session_token(0x5EED_7043_E000_0002)),
    }
}

fn aws_credentials() -> Credentials {
    let c = signing_credentials();
    Credentials::new(c.access_key_id, c.secret_access_key, c.session_token, None, "bench")
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_909_800) // 2026-11-28T23:50:00Z
}

// ---------------------------------------------------------------------------------------------
// aws-sigv4 used directly, configured for S3 as in tests/presign_reference.rs.

const PATH_SET: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn sigv4_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(u64::from(EXPIRES_SECS)));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.session_token_mode = SessionTokenMode::Include;
    settings
}

/// One complete URL from aws-sigv4: build the encoded URL, sign it, append the parameters.
fn sigv4_url(params: &aws_sigv4::http_request::SigningParams<'_>, key: &str) -> String {
    let mut url = format!("https://{BUCKET}.s3.{REGION}.amazonaws.com/");
    url.extend(percent_encode(key.as_bytes(), PATH_SET));
    let request =
        SignableRequest::new("GET", url.as_str(), std::iter::empty(), SignableBody::UnsignedPayload).unwrap();
    let (instructions, _signature) = sign(request, params).unwrap().into_parts();
    let mut separator = '?';
    for (name, value) in instructions.params() {
        url.push(separator);
        url.push_str(name);
        url.push('=');
        url.extend(percent_encode(value.as_bytes(), QUERY_SET));
        separator = '&';
    }
    url
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.

fn request<'a>(bucket: &'a BucketName, key: &'a ObjectKey) -> PresignRequest<'a> {
    PresignRequest { bucket, key, version_id: None, expires_in_secs: EXPIRES_SECS }
}

fn bench_presign(c: &mut Criterion) {
    let keys = realistic_keys();
    let object_keys: Vec<ObjectKey> = keys.iter().map(|k| ObjectKey::parse(k).unwrap()).collect();
    let bucket = BucketName::parse(BUCKET).unwrap();
    let region = Region::parse(REGION).unwrap();
    let credentials = signing_credentials();
    let presigner = Presigner::new(S3Endpoint::Aws);

    let identity = aws_credentials().into();
    let sigv4_params: aws_sigv4::http_request::SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(now())
        .settings(sigv4_settings())
        .build()
        .unwrap()
        .into();

    // The implementations compared must produce the same URL.
    {
        let signer = presigner.batch(&credentials, region, now());
        for key in object_keys.iter().step_by(997) {
            let ours = signer.presign(&request(&bucket, key));
            let theirs = sigv4_url(&sigv4_params, key.as_str());
            let signature = |url: &str| url.rsplit_once("X-Amz-Signature=").map(|(_, s)| s[..64].to_owned());
            assert_eq!(signature(&ours), signature(&theirs), "ours {ours}\naws-sigv4 {theirs}");
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sdk_client = {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_credentials())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    };
    let presigning_config = aws_sdk_s3::presigning::PresigningConfig::builder()
        .start_time(now())
        .expires_in(Duration::from_secs(u64::from(EXPIRES_SECS)))
        .build()
        .unwrap();
    {
        let url = runtime.block_on(async {
            sdk_client
                .get_object()
                .bucket(BUCKET)
                .key(&keys[0])
                .presigned(presigning_config.clone())
                .await
                .unwrap()
        });
        assert!(url.uri().contains("X-Amz-Signature=") && url.uri().contains("X-Amz-Security-Token="));
    }

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    group.bench_function(BenchmarkId::from_parameter(OURS_BATCH), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let signer = presigner.batch(&credentials, region, now());
                for key in &object_keys {
                    black_box(signer.presign(&request(&bucket, key)));
                }
            }
            let elapsed = start.elapsed();
            support::record(OURS_BATCH, iters, BATCH, elapsed);
            elapsed
        })
    });

    group.bench_function(BenchmarkId::from_parameter(OURS_PER_URL), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for key in &object_keys {
                    let signer = presigner.batch(&credentials, region, now());
                    black_box(signer.presign(&request(&bucket, key)));
                }
            }
            let elapsed = start.elapsed();
            support::record(OURS_PER_URL, iters, BATCH, elapsed);
            elapsed
        })
    });

    group.sample_size(10);
    group.measurement_time(Duration::from_secs(6));
    group.bench_function(BenchmarkId::from_parameter(AWS_SIGV4), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for key in &keys {
                    black_box(sigv4_url(&sigv4_params, key));
                }
            }
            let elapsed = start.elapsed();
            support::record(AWS_SIGV4, iters, BATCH, elapsed);
            elapsed
        })
    });

    group.measurement_time(Duration::from_secs(12));
    group.bench_function(BenchmarkId::from_parameter(AWS_SDK_S3), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            runtime.block_on(async {
                for _ in 0..iters {
                    for key in &keys {
                        let presigned = sdk_client
                            .get_object()
                            .bucket(BUCKET)
                            .key(key)
                            .presigned(presigning_config.clone())
                            .await
                            .unwrap();
                        black_box(presigned.uri().len());
                    }
                }
            });
            let elapsed = start.elapsed();
            support::record(AWS_SDK_S3, iters, BATCH, elapsed);
            elapsed
        })
    });
    group.finish();
}

fn print_summary() {
    const TARGET_US: f64 = 2.0;
    const TARGET_VS_SDK: f64 = 14.0;
    let us = support::recorded_median;
    println!();
    println!("Presigned GET URLs, batches of {BATCH} realistic keys, ~900-character session token");
    println!("(median over criterion's samples; one URL = one complete signed URL string)");
    println!();
    println!("{:<28} {:>12} {:>14}", "implementation", "µs per URL", "URLs per s");
    println!("{}", "-".repeat(56));
    for (id, label) in [
        (OURS_BATCH, "ours (BatchSigner/batch)"),
        (OURS_PER_URL, "ours (BatchSigner/URL)"),
        (AWS_SIGV4, "aws-sigv4 direct"),
        (AWS_SDK_S3, "aws-sdk-s3 presigned()"),
    ] {
        match us(id) {
            Some(v) => println!("{label:<28} {v:>12.3} {:>14.0}", 1e6 / v),
            None => println!("{label:<28} {:>12} {:>14}", "not run", "-"),
        }
    }
    println!();
    let verdict = |ok: bool| if ok { "meets target" } else { "MISSES target" };
    if let Some(ours) = us(OURS_BATCH) {
        println!(
            "ours per URL (batch): {ours:.3} µs — target ≤ {TARGET_US} µs: {}",
            verdict(ours <= TARGET_US)
        );
        if let Some(per_url) = us(OURS_PER_URL) {
            println!(
                "ours per URL (signer per URL): {per_url:.3} µs ({:.2}× the batch figure)",
                per_url / ours
            );
        }
        if let Some(sigv4) = us(AWS_SIGV4) {
            println!("speed-up vs aws-sigv4:  {:.1}×", sigv4 / ours);
        }
        if let Some(sdk) = us(AWS_SDK_S3) {
            let ratio = sdk / ours;
            println!(
                "speed-up vs aws-sdk-s3: {ratio:.1}× — target ≥ {TARGET_VS_SDK}×: {}",
                verdict(ratio >= TARGET_VS_SDK)
            );
        }
    }
}

criterion_group!(benches, bench_presign);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_summary();
}
