//! Logging for every binary: JSON lines on Lambda (CloudWatch), readable text elsewhere. The level
//! comes from `RUST_LOG` (`error`, `warn`, `info`, `debug` or `trace`; default `info`) — a plain
//! level rather than env-filter directives keeps the regex engine out of the Lambda binaries.
//! Request bodies, headers and credentials are never logged.
//!
//! Metrics ([`crate::api::metrics`]) go through the same output: an event at the target
//! [`metrics::TARGET`] is written as its bare EMF document, one line, at any `RUST_LOG` level (an
//! alarm on a metric must not go off because someone quietened the logs).

use crate::api::metrics;
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let _ = if on_lambda {
        tracing::subscriber::set_global_default(lambda_subscriber(level, std::io::stdout))
    } else {
        tracing::subscriber::set_global_default(text_subscriber(level, std::io::stdout))
    };
}

/// What `init` installs on Lambda, writing to `writer`: JSON log lines and bare EMF documents.
pub fn lambda_subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::format().json().without_time().with_target(false);
    tracing_subscriber::fmt()
        .with_max_level(level.max(LevelFilter::INFO))
        .with_ansi(false)
        .with_writer(writer)
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .event_format(EmfLines(format))
        .finish()
        .with(filter(level))
}

/// What `init` installs elsewhere (the dev server), writing to `writer`: text log lines and bare
/// EMF documents (scripts/run.sh sums them when it stops).
pub fn text_subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::format().with_target(false).with_ansi(false);
    tracing_subscriber::fmt()
        .with_max_level(level.max(LevelFilter::INFO))
        .with_ansi(false)
        .with_writer(writer)
        .event_format(EmfLines(format))
        .finish()
        .with(filter(level))
}

/// `RUST_LOG`'s level for everything but metrics, which are always on.
fn filter(level: LevelFilter) -> Targets {
    Targets::new().with_default(level).with_target(metrics::TARGET, LevelFilter::INFO)
}

/// An event format that writes metrics events as their document and every other event as `F`.
#[derive(Debug)]
struct EmfLines<F>(F);

impl<S, N, F> FormatEvent<S, N> for EmfLines<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if event.metadata().target() == metrics::TARGET {
            let mut document = Document(None);
            event.record(&mut document);
            if let Some(document) = document.0 {
                return writeln!(writer, "{document}");
            }
        }
        self.0.format_event(ctx, writer, event)
    }
}

/// The `emf` field of a metrics event.
struct Document(Option<String>);

impl Visit for Document {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "emf" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "emf" && self.0.is_none() {
            self.0 = Some(format!("{value:?}"));
        }
    }
}
