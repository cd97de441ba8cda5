//! Where integrations live: the [`IntegrationStore`] seam, the errors it speaks in, and the rules
//! every implementation shares (a new integration's first version, what a replace keeps, the page
//! cursor). Two implementations: [`DynamoStore`] (production, the emulator in tests) and
//! [`MemoryStore`] (handler unit tests without an emulator). One contract suite
//! (`tests/api/store_contract.rs`) holds both to the same behaviour: conditional writes,
//! versions, scope locks, pagination.
//!
//! Every key is partitioned by org, so no call can reach another org's items:
//!
//! | item | sort key | guards |
//! |---|---|---|
//! | integration | `INT#<id>` | optimistic `version` on replace and delete |
//! | scope lock | `SCOPE#<scope key>` | one integration per scope per org, one default per org |
//! | external ID | `EXTERNAL_ID` | created once, even under concurrent first requests |
//! | report | `REPORT#<id>#<checked at>#<ulid>` | kept [`REPORT_RETENTION_SECS`] by TTL |
//! | validation lease | `VALIDATING#<id>` | one on-demand validation of an integration at a time |
//! | audit record | `AUDIT#<ulid>` | written in the transaction of the change it records; kept `AUDIT_RETENTION_DAYS` by TTL |
//!
//! One item lives outside every org: the scheduled validation's resume cursor (`pk = SYSTEM`,
//! `sk = SCHEDULE#cursor`), where the last run that ran out of time stopped. It names an
//! integration's key, never its contents, and no route reads it.
//!
//! Nothing here names an HTTP status: `shared::api::error` maps [`StoreError`] for the client.

mod dynamo;
mod memory;

pub use dynamo::{DynamoStore, CONFLICT_ATTEMPTS};
pub use memory::MemoryStore;

use crate::domain::audit::{Action, Actor, AuditEvent, Changes};
use crate::domain::clock::now_rfc3339;
use crate::domain::external_id::ExternalIdProof;
use crate::domain::external_id::{ExternalId, ExternalIds, Rotation};
use crate::domain::integration::{Integration, IntegrationDraft, Status};
use crate::domain::org::OrgId;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub const MAX_PAGE_SIZE: i32 = 100;
pub const DEFAULT_PAGE_SIZE: i32 = 50;
/// How long a validation report stays in the history before DynamoDB's TTL removes it.
pub const REPORT_RETENTION_SECS: u64 = 7 * 24 * 3600;
pub const HISTORY_LIMIT: i32 = 10;

/// The version of the stored item format this release writes. Items written before the
/// attribute existed are version 1; an item from a newer release is refused rather than misread.
pub const SCHEMA_VERSION: u64 = 1;

/// A store failure, flattened to text so it can travel as an error cause.
#[derive(Debug)]
pub struct StoreCause(pub(crate) String);

impl fmt::Display for StoreCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreCause {}

/// What can go wrong in the store, in the store's words. `shared::api::error` is the one place that
/// turns it into a status, a code and a message for the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("integration {id} not found")]
    NotFound { id: String },
    #[error("scope {scope_key} is held by integration {holder_id}")]
    ScopeConflict { scope_key: String, holder_id: String, holder_name: String },
    #[error("integration {id} is at version {current}, the request expected {sent}")]
    VersionMismatch { id: String, current: u64, sent: u64 },
    /// A concurrent change won; the caller may retry.
    #[error("contended: {0}")]
    Contended(&'static str),
    #[error("the page cursor was not issued by this store")]
    InvalidCursor,
    /// The org already has `max` integrations.
    #[error("the org has reached its limit of {max} integrations")]
    TooManyIntegrations { max: u32 },
    /// An idempotency key sent again with another integration, or for one since deleted.
    #[error("idempotency key reused: {reason}")]
    IdempotencyKeyReused { reason: &'static str },
    /// A rotation was asked for while another's overlap is open.
    #[error("an external-ID rotation is in progress until {until}")]
    RotationInProgress { until: String },
    /// Completing was asked for with no rotation in progress.
    #[error("no external-ID rotation is in progress")]
    NoRotation,
    #[error("DynamoDB did not answer")]
    Unavailable(#[source] StoreCause),
    #[error("store failure")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// The error and its causes, for a log line.
    pub fn cause_chain(&self) -> String {
        crate::cause_chain(self)
    }

    pub(crate) fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        StoreError::Internal(cause.into())
    }

    pub(crate) fn corrupt(what: &str) -> Self {
        StoreError::internal(StoreCause(format!("stored item is malformed: {what}")))
    }

    pub(crate) fn not_found(id: &str) -> Self {
        StoreError::NotFound { id: id.to_owned() }
    }

    pub(crate) fn stale(id: &str, current: u64, sent: u64) -> Self {
        StoreError::VersionMismatch { id: id.to_owned(), current, sent }
    }
}

/// What a lost race tells the caller: another change to the same integration is in progress.
pub const IN_PROGRESS: &str = "Another change to this integration is in progress; retry in a moment.";
/// What a lost race during a delete without a version tells the caller.
pub const CHANGED_WHILE_DELETING: &str = "The integration changed while it was being deleted; retry.";

/// A page of an org's integrations and the opaque cursor of the next page.
#[derive(Debug)]
pub struct Page {
    pub integrations: Vec<Integration>,
    pub next: Option<String>,
}

/// A page of an org's audit trail, newest first, and the opaque cursor of the next page.
#[derive(Debug)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next: Option<String>,
}

/// The sort key of an audit record: its ULID, so the org's records sort by time.
pub(crate) fn audit_sk(id: &str) -> String {
    format!("AUDIT#{id}")
}

/// A record of a change, stamped now. Its id comes from one monotonic generator per process,
/// so records written in the same millisecond by this instance still sort in the order written
/// (across instances, a millisecond's records sort by their random part).
pub(crate) fn audit_event(
    actor: &Actor,
    action: Action,
    integration: &Integration,
    changes: Changes,
) -> AuditEvent {
    org_audit_event(actor, action, (&integration.id, integration.version), changes)
}

/// A record of a change to the org itself (its external IDs): no integration, version 0.
fn rotation_event(actor: &Actor, action: Action, changes: Changes) -> AuditEvent {
    org_audit_event(actor, action, ("", 0), changes)
}

fn org_audit_event(
    actor: &Actor,
    action: Action,
    (integration_id, version): (&str, u64),
    changes: Changes,
) -> AuditEvent {
    static IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let id = {
        let mut ids = IDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Overflow needs 2^80 ids in one millisecond; a fresh random id is still unique.
        ids.generate().unwrap_or_else(|_| ulid::Ulid::new())
    };
    AuditEvent {
        id: id.to_string(),
        at: now_rfc3339(),
        actor: actor.id().to_owned(),
        actor_type: actor.kind(),
        action,
        integration_id: integration_id.to_owned(),
        version,
        changes,
    }
}

/// One step of an external-ID rotation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RotationStep {
    /// A fresh current ID; the old one honoured until `until`.
    Start { until: SystemTime },
    /// The overlap ends now.
    Complete,
}

/// What `step` makes at `now` of the org's IDs `before`, with the step's audit record, or why it
/// is refused. Both stores decide here, then write the result with the record in one write,
/// on the condition that `before` is still what is stored.
pub(crate) fn rotation_step(
    before: &ExternalIds,
    step: RotationStep,
    actor: &Actor,
    now: SystemTime,
) -> Result<(ExternalIds, AuditEvent), StoreError> {
    let (after, action) = match step {
        RotationStep::Start { until } => {
            if let Some(open) = before.overlap_at(now) {
                return Err(StoreError::RotationInProgress {
                    until: crate::domain::clock::rfc3339(open.until),
                });
            }
            let after = ExternalIds {
                current: generate_external_id()?,
                rotation: Some(Rotation {
                    previous: before.current.clone(),
                    started_at: whole_seconds(now),
                    until: whole_seconds(until),
                }),
            };
            (after, Action::ExternalIdRotationStarted)
        }
        RotationStep::Complete => {
            if before.overlap_at(now).is_none() {
                return Err(StoreError::NoRotation);
            }
            (ExternalIds::single(before.current.clone()), Action::ExternalIdRotationCompleted)
        }
    };
    let event = rotation_event(actor, action, rotation_changes(before, &after, now));
    Ok((after, event))
}

/// `at` without its fraction of a second: a rotation's times are kept as RFC 3339 seconds, so
/// what a rotation returns is exactly what reads back.
fn whole_seconds(at: SystemTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(crate::domain::clock::unix_secs(at))
}

/// The changes a rotation step records: the external IDs before and after (they are not secrets:
/// each is pasted into a trust policy).
fn rotation_changes(before: &ExternalIds, after: &ExternalIds, now: SystemTime) -> Changes {
    let show = |ids: &ExternalIds| {
        serde_json::json!({
            "current": ids.current.as_str(),
            "previous": ids.previous_at(now).map(ExternalId::as_str),
            "previous_honoured_until": ids.overlap_at(now).map(|r| crate::domain::clock::rfc3339(r.until)),
        })
    };
    Changes::from([(
        "external_ids".to_owned(),
        crate::domain::audit::Change::Values { before: show(before), after: show(after) },
    )])
}

/// One integration found by a scan, with the org it belongs to.
#[derive(Debug)]
pub struct Scanned {
    pub org: OrgId,
    pub integration: Integration,
}

/// Where a scan of every org resumes: the key of the last item the previous page evaluated, or
/// of the last integration a scheduled run took ([`ScanCursor::after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCursor {
    pub(crate) pk: String,
    pub(crate) sk: String,
}

impl ScanCursor {
    /// The cursor just past this integration: a scan started there continues with the next one.
    pub fn after(scanned: &Scanned) -> Self {
        ScanCursor { pk: org_pk(&scanned.org), sk: integration_sk(&scanned.integration.id) }
    }

    /// A stored resume cursor, re-checked: it must name an integration's key (an org's
    /// partition, `INT#` and a valid id), whatever wrote it.
    pub(crate) fn stored(pk: &str, sk: &str) -> Result<Self, StoreError> {
        let org_ok = pk.strip_prefix("ORG#").is_some_and(|org| OrgId::parse(org).is_ok());
        let id_ok = sk.strip_prefix("INT#").is_some_and(valid_id);
        if org_ok && id_ok {
            Ok(ScanCursor { pk: pk.to_owned(), sk: sk.to_owned() })
        } else {
            Err(StoreError::corrupt("schedule cursor"))
        }
    }
}

/// The right to run the one on-demand validation of an integration until `until`. Whoever holds
/// it releases it when the run ends ([`IntegrationStore::release_validation_lease`]); a holder
/// that dies leaves it to expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationLease {
    pub id: String,
    pub until: SystemTime,
    /// Names this holder, so a release never frees a lease someone else took after it expired.
    pub(crate) token: String,
}

/// What asking for a validation lease got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired(ValidationLease),
    /// Another validation of the integration holds it until `until`.
    Held {
        until: SystemTime,
    },
}

/// A lease that runs from `now` for `ttl`, with a fresh holder token.
pub(crate) fn new_lease(id: &str, now: SystemTime, ttl: Duration) -> ValidationLease {
    ValidationLease { id: id.to_owned(), until: now + ttl, token: ulid::Ulid::new().to_string() }
}

/// A lease's end in the table: milliseconds since 1970 (second resolution would let a lease of
/// a few seconds end up to a second early or late).
pub(crate) fn lease_millis(at: SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn lease_time(millis: u64) -> SystemTime {
    std::time::UNIX_EPOCH + Duration::from_millis(millis)
}

/// The sort key of an integration's validation lease.
pub(crate) fn lease_sk(id: &str) -> String {
    format!("VALIDATING#{id}")
}

/// The key of the scheduled validation's resume cursor: outside every org's partition.
pub(crate) const SCHEDULE_CURSOR_PK: &str = "SYSTEM";
pub(crate) const SCHEDULE_CURSOR_SK: &str = "SCHEDULE#cursor";

pub(crate) fn org_pk(org: &OrgId) -> String {
    format!("ORG#{}", org.as_str())
}

/// One page of a scan: what it found (possibly nothing, when the page held only other items)
/// and where the next page starts; `None` when the walk is complete.
#[derive(Debug)]
pub struct ScanPage {
    pub found: Vec<Scanned>,
    pub next: Option<ScanCursor>,
}

/// The future every [`IntegrationStore`] call returns (boxed, so the store can sit behind `dyn`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The store as the handlers and the validator see it. Both implementations keep these promises,
/// which the contract suite checks:
/// - `create` fails with `ScopeConflict` when another integration of the org holds the scope;
/// - `replace` and `delete` succeed only at the expected version (`VersionMismatch` names the
///   current one), move or free the scope lock in the same write, and never touch another org;
/// - `list` pages oldest first, at most `limit` (clamped to 1..=[`MAX_PAGE_SIZE`]) per page, and
///   the cursors walk every integration exactly once; a cursor it did not issue is `InvalidCursor`;
/// - `external_id` creates the org's external ID once, whoever asks first;
/// - `record_report` records only at the validated version of a still existing integration;
/// - `acquire_validation_lease` grants one holder at a time per integration until its lease
///   ends, and `release_validation_lease` frees only the holder's own lease;
/// - the schedule cursor reads back as written, and a cleared one reads as `None`;
/// - every create, replace and delete, and every report that changes the health state, writes
///   one audit record naming `actor`, in the same write as the change: a refused change writes
///   none, and no record exists without its change. `audit_log` pages the org's records newest
///   first, like `list`.
pub trait IntegrationStore: Send + Sync + fmt::Debug {
    /// Creates the integration with its scope lock, counting it against `options`'
    /// `max_integrations` in the same write. With an idempotency key, the key is recorded in that
    /// write too; a create that finds its key already recorded for the same draft returns the
    /// integration that first create made (`replayed`), and for another draft
    /// `IdempotencyKeyReused`.
    fn create_with<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        draft: IntegrationDraft,
        options: &'a CreateOptions,
    ) -> StoreFuture<'a, Created>;

    /// [`IntegrationStore::create_with`] with the default limit and no idempotency key, by
    /// [`Actor::direct`]: for tools and tests that write straight to the store (the handlers
    /// always name their caller).
    fn create<'a>(&'a self, org: &'a OrgId, draft: IntegrationDraft) -> StoreFuture<'a, Integration> {
        Box::pin(async move {
            let options = CreateOptions::default();
            Ok(self.create_with(org, &Actor::direct(), draft, &options).await?.integration)
        })
    }

    fn get<'a>(&'a self, org: &'a OrgId, id: &'a str) -> StoreFuture<'a, Integration>;

    /// One page of the org's integrations, oldest first.
    fn list<'a>(&'a self, org: &'a OrgId, cursor: Option<&'a str>, limit: i32) -> StoreFuture<'a, Page>;

    /// Replaces the integration's configuration if `expected_version` is still the stored one.
    fn replace<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        draft: IntegrationDraft,
        expected_version: u64,
    ) -> StoreFuture<'a, Integration>;

    /// Deletes the integration and frees its scope. With `expected_version`, only if it is current.
    fn delete<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        expected_version: Option<u64>,
    ) -> StoreFuture<'a, ()>;

    /// The org's external ID, created on first use; concurrent first requests all get the winner.
    fn external_id<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, ExternalId>;

    /// The org's current external ID if one was created; never creates one.
    fn read_external_id<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, Option<ExternalId>> {
        Box::pin(async move { Ok(self.read_external_ids(org).await?.map(|ids| ids.current)) })
    }

    /// The org's external IDs (the current one, and a rotation's previous one) if any was
    /// created; never creates one.
    fn read_external_ids<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, Option<ExternalIds>>;

    /// Starts a rotation at `now`: a fresh current external ID, the old one honoured until
    /// `until`, audited as by `actor` in the same write. Creates the org's first ID if it has none.
    /// `RotationInProgress` while an earlier rotation's overlap is still open at `now`.
    fn rotate_external_id<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        now: SystemTime,
        until: SystemTime,
    ) -> StoreFuture<'a, ExternalIds>;

    /// Ends the open overlap at `now`: from then on only the current ID is honoured; audited in the
    /// same write. `NoRotation` when no overlap is open.
    fn complete_rotation<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        now: SystemTime,
    ) -> StoreFuture<'a, ExternalIds>;

    /// Records a validation report as the integration's status and in its history, in one write
    /// conditioned on the integration still existing at `validated_version`: a concurrent replace
    /// is never overwritten and a deleted integration never resurrected (`Ok(false)`: dropped).
    /// A conclusive probe's `proof` replaces the recorded one; `None` keeps it. A report that
    /// changes the health state is audited as by `actor`, in the same write.
    fn record_report<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        validated_version: u64,
        report: &'a Status,
        proof: Option<&'a ExternalIdProof>,
    ) -> StoreFuture<'a, bool>;

    /// One page of the org's audit trail, newest first, at most `limit` (clamped to
    /// 1..=[`MAX_PAGE_SIZE`]); a cursor it did not issue is `InvalidCursor`.
    fn audit_log<'a>(
        &'a self,
        org: &'a OrgId,
        cursor: Option<&'a str>,
        limit: i32,
    ) -> StoreFuture<'a, AuditPage>;

    /// The latest validation reports of an integration, newest first.
    fn report_history<'a>(&'a self, org: &'a OrgId, id: &'a str, limit: i32) -> StoreFuture<'a, Vec<Status>>;

    /// One page of every org's integrations (the scheduled validation's walk). `start` is the
    /// previous page's `next`; the walk ends when `next` is `None`, whatever the page sizes.
    fn scan_integrations<'a>(
        &'a self,
        page_size: i32,
        start: Option<ScanCursor>,
    ) -> StoreFuture<'a, ScanPage>;

    /// The lease on the integration's on-demand validation, from `now` for `ttl`, if no other
    /// holder's lease is still running at `now`; else when that one ends. `now` is the caller's
    /// clock (DynamoDB has none to offer a condition), so every holder judges expiry alike.
    fn acquire_validation_lease<'a>(
        &'a self,
        org: &'a OrgId,
        id: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> StoreFuture<'a, LeaseOutcome>;

    /// Ends the holder's lease now (`Ok(false)`: it was no longer the holder's, nothing changed).
    fn release_validation_lease<'a>(
        &'a self,
        org: &'a OrgId,
        lease: &'a ValidationLease,
    ) -> StoreFuture<'a, bool>;

    /// Where the scheduled validation resumes: the integration the last unfinished run took
    /// last, or `None` to start at the beginning.
    fn read_schedule_cursor(&self) -> StoreFuture<'_, Option<ScanCursor>>;

    /// Records where the scheduled validation got to; `None` clears it (the walk reached the end).
    fn write_schedule_cursor<'a>(&'a self, cursor: Option<&'a ScanCursor>) -> StoreFuture<'a, ()>;

    /// Every integration of the org, following every page.
    fn list_all<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, Vec<Integration>> {
        Box::pin(async move {
            let mut all = Vec::new();
            let mut cursor = None;
            loop {
                let page = self.list(org, cursor.as_deref(), MAX_PAGE_SIZE).await?;
                all.extend(page.integrations);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => return Ok(all),
                }
            }
        })
    }
}

/// How many integrations an org may have unless the deployment says otherwise
/// (`INTEGRATIONS_PER_ORG`).
pub const DEFAULT_MAX_INTEGRATIONS: u32 = 1000;

/// How long a create's idempotency key is remembered.
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// What a create carries besides the draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    pub max_integrations: u32,
    pub idempotency: Option<Idempotency>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self { max_integrations: DEFAULT_MAX_INTEGRATIONS, idempotency: None }
    }
}

/// A client's `Idempotency-Key` and the fingerprint of the draft it was sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: String,
}

/// A create's outcome: the integration, and whether an earlier create with the same idempotency
/// key made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub integration: Integration,
    pub replayed: bool,
}

pub(crate) const KEY_FOR_ANOTHER_DRAFT: &str = "it was first sent with another integration";
pub(crate) const KEY_FOR_A_DELETED_INTEGRATION: &str = "the integration it created has since been deleted";

/// The sort key of an idempotency record.
pub(crate) fn idempotency_sk(key: &str) -> String {
    format!("IDEMPOTENCY#{key}")
}

/// How the functions hold their store: built once per Lambda instance, shared by every invocation.
pub type SharedStore = Arc<dyn IntegrationStore>;

/// Integration ids are ULIDs; anything else cannot exist, so it is a 404 without a lookup.
pub fn valid_id(id: &str) -> bool {
    id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A draft's first stored version: a fresh id, never validated.
pub(crate) fn first_version(draft: IntegrationDraft) -> Integration {
    let now = now_rfc3339();
    Integration {
        id: ulid::Ulid::new().to_string(),
        name: draft.name,
        access: draft.access,
        scope: draft.scope,
        versioning: draft.versioning,
        version: 1,
        created_at: now.clone(),
        updated_at: now,
        status: Status::unverified(),
        external_id_proof: None,
    }
}

/// What a replace stores: the draft's configuration as the next version, unvalidated (a new
/// configuration has not been checked), keeping the external-ID proof only while the role stays
/// (a proof is about one role; an S3-compatible store has none).
pub(crate) fn next_version(current: &Integration, draft: IntegrationDraft) -> Integration {
    let role = draft.access.role_arn();
    let proof =
        current.external_id_proof.clone().filter(|p| role.is_some_and(|role| p.role_arn == role.as_str()));
    Integration {
        id: current.id.clone(),
        name: draft.name,
        access: draft.access,
        scope: draft.scope,
        versioning: draft.versioning,
        version: current.version + 1,
        created_at: current.created_at.clone(),
        updated_at: now_rfc3339(),
        status: Status::unverified(),
        external_id_proof: proof,
    }
}

/// A new org's external ID ([`ExternalId::generate`]), as the store reports a failure.
pub fn generate_external_id() -> Result<ExternalId, StoreError> {
    ExternalId::generate().map_err(|e| StoreError::internal(StoreCause(format!("no randomness: {e}"))))
}

/// The sort key of an integration item.
pub(crate) fn integration_sk(id: &str) -> String {
    format!("INT#{id}")
}

/// A list cursor is the hex of the last integration's sort key: opaque to clients, and both
/// stores issue and read the same ones.
pub(crate) fn encode_cursor(sk: &str) -> String {
    sk.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The sort key a list cursor stands for. Any other text, of any bytes, is `InvalidCursor`.
pub(crate) fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    decode_cursor_of(cursor, "INT#")
}

/// The sort key an audit cursor stands for: an `AUDIT#` key, never an integration's (a cursor
/// from one listing cannot start the other anywhere but where it was issued).
pub(crate) fn decode_audit_cursor(cursor: &str) -> Result<String, StoreError> {
    decode_cursor_of(cursor, "AUDIT#")
}

fn decode_cursor_of(cursor: &str, prefix: &str) -> Result<String, StoreError> {
    let invalid = || StoreError::InvalidCursor;
    if cursor.len() > 200 || cursor.len() % 2 != 0 {
        return Err(invalid());
    }
    // By bytes, not by string slices: a multi-byte character must not split at an offset.
    let bytes = cursor
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| Some((hex_digit(pair[0])? << 4) | hex_digit(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    let sk = String::from_utf8(bytes).map_err(|_| invalid())?;
    match sk.strip_prefix(prefix) {
        Some(id) if valid_id(id) => Ok(sk),
        _ => Err(invalid()),
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_cursor_reads_back_as_the_sort_key_it_was_issued_for() {
        let sk = integration_sk("01JD8Q4V6W5X2Y3Z4A5B6C7D8E");
        assert_eq!(decode_cursor(&encode_cursor(&sk)).ok(), Some(sk));
    }

    #[test]
    fn a_cursor_with_multi_byte_characters_is_invalid_not_a_panic() {
        for cursor in ["a\u{e9}b", "\u{e9}\u{e9}", "0\u{1F600}0", "zz", "494E5423"] {
            assert!(matches!(decode_cursor(cursor), Err(StoreError::InvalidCursor)), "{cursor:?}");
        }
    }

    #[test]
    fn an_integration_cursor_never_pages_the_audit_trail_nor_the_other_way_round() {
        let id = "01JD8Q4V6W5X2Y3Z4A5B6C7D8E";
        let (list, audit) = (encode_cursor(&integration_sk(id)), encode_cursor(&audit_sk(id)));
        assert_eq!(decode_audit_cursor(&audit).ok(), Some(audit_sk(id)));
        assert!(matches!(decode_audit_cursor(&list), Err(StoreError::InvalidCursor)));
        assert!(matches!(decode_cursor(&audit), Err(StoreError::InvalidCursor)));
    }

    proptest! {
        #[test]
        fn no_text_makes_the_cursor_decoder_panic(cursor in "\\PC{0,120}") {
            let _ = decode_cursor(&cursor);
        }
    }
}
