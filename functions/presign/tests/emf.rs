#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The metrics presign writes, read from its log output as Lambda would capture it: the handler
//! runs under the subscriber `shared::api::telemetry` installs on Lambda, writing into a buffer,
//! and every EMF line it writes is checked against the format's rules (CloudWatch's "Specification:
//! Embedded metric format"), then against what the batch did.

mod common;

use serde_json::{json, Value};
use shared::api::telemetry;
use shared::api::testkit::{status_and_json, ApiEvent};
use shared::aws::credentials::{CacheConfig, CredentialCache, MemoryAssumer, RoleTrust};
use shared::aws::secrets::MemorySealer;
use shared::aws::store::{IntegrationStore, MemoryStore};
use shared::domain::integration::IntegrationDraft;
use shared::domain::org::OrgId;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::level_filters::LevelFilter;

const ROLE: &str = "arn:aws:iam::210987654321:role/platform-read";

/// CloudWatch's units (the `StandardUnit` values).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_owned).collect()
    }
}

/// Checks one EMF document against the specification; returns it parsed.
fn assert_emf(line: &str, forbidden: &[&str]) -> Value {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let root = doc.as_object().unwrap_or_else(|| panic!("not an object: {line}"));
    let aws = root["_aws"].as_object().unwrap_or_else(|| panic!("no _aws object: {line}"));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let ts = aws["Timestamp"].as_u64().unwrap_or_else(|| panic!("Timestamp is not an integer: {line}"));
    assert!(now.abs_diff(ts) < 60_000, "Timestamp {ts} is not milliseconds since the epoch (now {now})");
    let directives =
        aws["CloudWatchMetrics"].as_array().unwrap_or_else(|| panic!("no CloudWatchMetrics array"));
    assert!(!directives.is_empty(), "{line}");
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace is a string");
        assert!(!namespace.is_empty() && namespace.len() <= 255 && !namespace.contains(':'), "{namespace}");
        let sets = directive["Dimensions"].as_array().expect("Dimensions is an array");
        assert!(!sets.is_empty(), "one dimension set at least: {line}");
        for set in sets {
            let names = set.as_array().expect("a dimension set is an array");
            assert!(!names.is_empty() && names.len() <= 30, "1 to 30 dimensions: {line}");
            for name in names {
                let name = name.as_str().expect("a dimension name is a string");
                let value = root
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("dimension {name} is not a top-level string: {line}"));
                assert!(!value.is_empty() && value.len() <= 1024, "{name}={value}");
                for bad in forbidden {
                    assert!(!value.contains(bad), "dimension {name}={value} carries {bad}: high cardinality");
                }
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics is an array");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "1 to 100 metrics: {line}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name is a string");
            let unit = metric["Unit"].as_str().expect("Unit is a string");
            assert!(UNITS.contains(&unit), "{name}: {unit} is not a CloudWatch unit");
            let value = &root[name];
            assert!(value.is_number(), "metric {name} has no top-level number: {line}");
            assert!(value.as_f64().unwrap() >= 0.0, "{name} = {value}");
        }
    }
    doc
}

fn state(store: Arc<MemoryStore>, sts: Arc<MemoryAssumer>) -> presign::State {
    let config = common::config(&[]);
    let credentials = CredentialCache::with_assumer(sts, CacheConfig::default(), Arc::new(SystemTime::now));
    presign::State::new(store, credentials, Arc::new(MemorySealer::new()), config)
}

/// The documents among `lines` whose `Route` (and `Code`) are these.
fn documents<'a>(docs: &'a [Value], route: &str, code: Option<&str>) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["Route"] == route && d.get("Code").and_then(Value::as_str) == code).collect()
}

#[tokio::test]
async fn presigns_log_lines_hold_valid_emf_documents_with_low_cardinality_dimensions() {
    let captured = Captured::default();
    let writer = captured.clone();
    let _guard =
        tracing::subscriber::set_default(telemetry::lambda_subscriber(LevelFilter::INFO, move || {
            writer.clone()
        }));

    let store = Arc::new(MemoryStore::new());
    let sts = Arc::new(MemoryAssumer::new(Duration::from_secs(3600)));
    let org = OrgId::parse("acme-org-7f3a").unwrap();
    let draft = IntegrationDraft::role_from_json(&json!({
        "name": "photos", "role_arn": ROLE, "region": "us-east-1",
        "scope": {"type": "bucket", "bucket": "acme-photos"}
    }))
    .unwrap();
    store.create(&org, draft).await.unwrap();
    let external_id = store.external_id(&org).await.unwrap().as_str().to_owned();
    sts.put_role(ROLE, RoleTrust::ExternalId(external_id));
    let state = state(store, sts);

    let locators =
        ["s3://acme-photos/a.jpg", "https://cdn.example.com/b.png", "s3://elsewhere/c.jpg", "gs://b/k"];
    let event = ApiEvent::post("/presign", &json!({ "locators": locators })).member_of(org.as_str());
    let (status, body) = status_and_json(&presign::handle(&state, event.request()).await.unwrap());
    assert_eq!(status, 200, "{body}");
    let again = ApiEvent::post("/presign", &json!({ "locators": ["s3://acme-photos/d.jpg"] }))
        .member_of(org.as_str());
    assert_eq!(status_and_json(&presign::handle(&state, again.request()).await.unwrap()).0, 200);
    let link = ApiEvent::get("/l/not-a-link-token").without_claims().request();
    assert_eq!(status_and_json(&presign::handle(&state, link).await.unwrap()).0, 403);

    let lines = captured.lines();
    let (emf, logs): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| l.starts_with("{\"_aws\""));
    // The ordinary log lines are still tracing's JSON, and carry no metrics document.
    assert!(logs.iter().any(|l| l.contains("presigned batch")), "{lines:#?}");
    assert!(logs.iter().all(|l| serde_json::from_str::<Value>(l).unwrap().get("_aws").is_none()));
    // Every metrics line is a valid document; no dimension carries the org, a locator or a bucket.
    let docs: Vec<Value> =
        emf.iter().map(|l| assert_emf(l, &[org.as_str(), "s3://", "acme-photos", "not-a-link"])).collect();

    let batches = documents(&docs, "POST /presign", None);
    assert_eq!(batches.len(), 2, "one document per batch, not per locator: {docs:#?}");
    let first = batches[0];
    assert_eq!(
        (&first["Locators"], &first["Urls"], &first["PassedThrough"], &first["LocatorErrors"]),
        (&json!(4), &json!(1), &json!(1), &json!(2)),
        "{first}"
    );
    assert_eq!(first["Function"], "presign");
    let directives = first["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives[0]["Dimensions"], json!([["Function"]]), "the cache's counters, function-wide");
    assert_eq!(directives[1]["Dimensions"], json!([["Function", "Route"]]));
    assert_eq!(directives[1]["Metrics"][0], json!({"Name": "Locators", "Unit": "Count"}));
    // The first batch took the role's credentials cold (a miss and the probe), the second warm.
    assert_eq!(
        (&first["CredentialCacheMisses"], &first["ExternalIdProbes"]),
        (&json!(1), &json!(1)),
        "{first}"
    );
    assert_eq!(
        (&batches[1]["CredentialCacheHits"], &batches[1]["CredentialCacheMisses"]),
        (&json!(1), &json!(0))
    );
    for code in ["NO_INTEGRATION", "UNSUPPORTED_LOCATOR"] {
        let by_code = documents(&docs, "POST /presign", Some(code));
        assert_eq!(by_code.len(), 1, "{code}: {docs:#?}");
        assert_eq!(by_code[0]["LocatorErrors"], 1);
        assert_eq!(
            by_code[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Route", "Code"]])
        );
    }
    let refused = documents(&docs, "GET /l/{token}", Some("LINK_INVALID"));
    assert_eq!(refused.len(), 1, "a refused link is counted by its code: {docs:#?}");
    assert_eq!(refused[0]["RequestErrors"], 1);
}
