//! CloudWatch metrics as Embedded Metric Format (EMF) documents: one JSON object per log line,
//! which CloudWatch Logs turns into metrics as it ingests a Lambda function's log group (no agent,
//! no `PutMetricData` call, nothing on the request's path but one line of output).
//!
//! A document is built with [`Emf`] and written through `tracing` at the target [`TARGET`];
//! [`crate::api::telemetry`] writes such an event as the bare document on its own line (not inside
//! the usual log line, which would hide it from CloudWatch), whatever `RUST_LOG` says. Lambda
//! passes a line that is already JSON through unchanged, with `LogFormat: JSON` too.
//!
//! Dimensions are low-cardinality by construction: their values are `&'static str` (a function,
//! a route key, an error code), so an org id, a locator or an integration id can never become one.
//! Functions emit once per batch, per followed link or per scheduled run, never per locator.
//!
//! The namespace is `METRICS_NAMESPACE` (the template sets the stack's), else [`DEFAULT_NAMESPACE`].

use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `tracing` target of EMF events.
pub const TARGET: &str = "emf";
/// The namespace when `METRICS_NAMESPACE` is not set (the dev server, tests).
pub const DEFAULT_NAMESPACE: &str = "S3Integrations";
/// What CloudWatch accepts in one document's directive.
pub const MAX_DIMENSIONS: usize = 30;
pub const MAX_METRICS: usize = 100;

/// The CloudWatch units these metrics use (each is one of CloudWatch's `StandardUnit` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// One metric value: its name (a top-level member of the document), unit and value.
pub type Metric = (&'static str, Unit, f64);

/// One EMF document. Dimensions are added in order; each [`Emf::metrics`] call publishes its
/// metrics under the dimensions added so far (one directive each), so a document can carry
/// function-wide counters under `[Function]` and a route's under `[Function, Route]`.
#[derive(Debug, Clone)]
pub struct Emf {
    dimensions: Vec<(&'static str, &'static str)>,
    /// (how many of `dimensions` the directive uses, its metrics)
    directives: Vec<(usize, Vec<Metric>)>,
}

impl Emf {
    /// A document with the `Function` dimension (`presign`, `validate`, `validate-schedule`).
    pub fn new(function: &'static str) -> Self {
        Self { dimensions: vec![("Function", function)], directives: Vec::new() }
    }

    /// Adds a dimension for the metrics added after it.
    pub fn dimension(mut self, name: &'static str, value: &'static str) -> Self {
        if self.dimensions.len() < MAX_DIMENSIONS && !self.dimensions.iter().any(|(n, _)| *n == name) {
            self.dimensions.push((name, value));
        }
        self
    }

    /// Metrics under every dimension added so far. A name already in the document is skipped
    /// (a top-level member holds one value).
    pub fn metrics(mut self, metrics: &[Metric]) -> Self {
        let taken: usize = self.directives.iter().map(|(_, m)| m.len()).sum();
        let mut fresh: Vec<Metric> = Vec::with_capacity(metrics.len());
        for metric in metrics {
            let name = metric.0;
            let known = self.dimensions.iter().any(|(d, _)| *d == name)
                || fresh.iter().any(|(n, _, _)| *n == name)
                || self.directives.iter().any(|(_, m)| m.iter().any(|(n, _, _)| *n == name));
            if !known && taken + fresh.len() < MAX_METRICS {
                fresh.push(*metric);
            }
        }
        if !fresh.is_empty() {
            self.directives.push((self.dimensions.len(), fresh));
        }
        self
    }

    /// The document, timestamped `timestamp_ms` (milliseconds since the Unix epoch).
    pub fn to_json(&self, timestamp_ms: u64) -> String {
        let namespace = namespace();
        let directives: Vec<Value> = self
            .directives
            .iter()
            .map(|(used, metrics)| {
                let names: Vec<Value> =
                    self.dimensions[..*used].iter().map(|(n, _)| Value::from(*n)).collect();
                let defs: Vec<Value> = metrics
                    .iter()
                    .map(|(name, unit, _)| serde_json::json!({ "Name": name, "Unit": unit.as_str() }))
                    .collect();
                serde_json::json!({ "Namespace": namespace, "Dimensions": [names], "Metrics": defs })
            })
            .collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".to_owned(),
            serde_json::json!({ "Timestamp": timestamp_ms, "CloudWatchMetrics": directives }),
        );
        for (name, value) in &self.dimensions {
            doc.insert((*name).to_owned(), Value::from(*value));
        }
        for (_, metrics) in &self.directives {
            for (name, _, value) in metrics {
                doc.insert((*name).to_owned(), number(*value));
            }
        }
        Value::Object(doc).to_string()
    }

    /// Writes the document as one log line (see the module's documentation).
    pub fn emit(&self) {
        if self.directives.is_empty() {
            return;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let doc = self.to_json(now);
        tracing::info!(target: TARGET, emf = doc.as_str());
    }
}

/// A whole number as an integer (`3`, not `3.0`); anything not finite as 0 (CloudWatch rejects
/// NaN and infinities).
fn number(value: f64) -> Value {
    if !value.is_finite() {
        return Value::from(0);
    }
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        return Value::from(value as i64);
    }
    Value::from(value)
}

fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE")
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 255)
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
    })
}

/// Turns running totals (a cache's lifetime counters) into what happened since the last
/// emission: each [`Deltas::since_last`] returns the increase since the previous call and
/// remembers the new totals. Exact across concurrent callers (each increase is handed out once).
#[derive(Debug)]
pub struct Deltas<const N: usize> {
    last: [AtomicU64; N],
}

impl<const N: usize> Deltas<N> {
    pub const fn new() -> Self {
        Self { last: [const { AtomicU64::new(0) }; N] }
    }

    pub fn since_last(&self, totals: [u64; N]) -> [u64; N] {
        let mut out = [0; N];
        for (i, total) in totals.into_iter().enumerate() {
            // A total below the last one (another counter, in tests) starts over from it.
            out[i] = total.saturating_sub(self.last[i].swap(total, Ordering::Relaxed));
        }
        out
    }
}

impl<const N: usize> Default for Deltas<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_has_one_directive_per_dimension_set_and_every_value_at_top_level() {
        let doc = Emf::new("presign")
            .metrics(&[("CredentialCacheHits", Unit::Count, 2.0)])
            .dimension("Route", "POST /presign")
            .metrics(&[("Locators", Unit::Count, 3.0), ("Locators", Unit::Count, 9.0)])
            .to_json(1_700_000_000_000);
        let v: Value = serde_json::from_str(&doc).expect("JSON");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let d = &v["_aws"]["CloudWatchMetrics"];
        assert_eq!(d[0]["Dimensions"], serde_json::json!([["Function"]]));
        assert_eq!(d[1]["Dimensions"], serde_json::json!([["Function", "Route"]]));
        assert_eq!(d[1]["Metrics"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["Locators"], 3);
        assert_eq!(v["Route"], "POST /presign");
        assert_eq!(number(f64::NAN), 0);
        assert_eq!(number(1.5), 1.5);
    }

    #[test]
    fn deltas_hand_out_each_increase_once() {
        let d = Deltas::<2>::new();
        assert_eq!(d.since_last([3, 1]), [3, 1]);
        assert_eq!(d.since_last([5, 1]), [2, 0]);
        assert_eq!(d.since_last([1, 1]), [0, 0]);
    }
}
