//! The store contract: every promise of `IntegrationStore`, run against the DynamoDB store on the
//! emulator and against the in-memory store, so that handler tests on the in-memory store prove
//! what they would prove on the table. Each contract test is written once, as a function of the
//! store, and the `contract!` macro runs it on both.

use crate::helpers::*;
use serde_json::{json, Value};
use shared::aws::store::{
    CreateOptions, Idempotency, LeaseOutcome, MemoryStore, ScanCursor, Scanned, SharedStore, StoreError,
    MAX_PAGE_SIZE,
};
use shared::domain::audit::{Action, Actor, ActorKind, AuditEvent, Change};
use shared::domain::external_id::ExternalIdProof;
use shared::domain::integration::{Check, CheckResult, HealthState, IntegrationDraft, Status};
use shared::domain::org::OrgId;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ROLE: &str = "arn:aws:iam::210987654321:role/platform-read";
const OTHER_ROLE: &str = "arn:aws:iam::210987654321:role/platform-read-2";

async fn dynamo_store() -> SharedStore {
    fresh_table().await.shared()
}

async fn fresh_table() -> shared::aws::store::DynamoStore {
    let aws = aws_config().await;
    let table = format!("contract-{}", ulid::Ulid::new().to_string().to_lowercase());
    let store = shared::aws::store::DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    store.ensure_table().await.expect("create a fresh table in the emulator");
    store
}

fn memory_store() -> SharedStore {
    Arc::new(MemoryStore::new())
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_dynamodb {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::dynamo_store().await).await
            })*
        }
        mod in_memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::memory_store()).await
            })*
        }
    };
}

contract!(
    a_created_integration_reads_back_as_saved_at_version_one,
    a_second_integration_on_a_held_scope_conflicts_naming_the_holder_and_stores_nothing,
    an_org_has_one_default_scope,
    a_replace_at_a_stale_version_is_refused_naming_the_current_version,
    a_replace_moves_the_scope_lock,
    a_replace_onto_a_held_scope_conflicts_and_changes_nothing,
    a_replace_keeps_the_external_id_proof_only_while_the_role_stays,
    a_delete_frees_the_scope_and_a_stale_delete_is_refused,
    another_org_can_neither_see_nor_change_the_integrations,
    pages_walk_every_integration_once_in_id_order,
    a_full_last_page_still_offers_a_next_page_that_is_empty,
    the_page_size_is_clamped_to_one_through_the_maximum,
    a_cursor_the_store_did_not_issue_is_invalid,
    the_external_id_is_created_once_under_concurrent_first_requests,
    a_report_is_recorded_only_at_the_validated_version_of_a_live_integration,
    the_report_history_is_newest_first_and_limited,
    a_scan_walks_every_integration_of_every_org_exactly_once,
    an_org_at_its_limit_is_refused_until_a_delete_frees_a_place,
    a_create_retried_with_its_idempotency_key_returns_the_first_integration,
    an_idempotency_key_sent_with_another_draft_or_after_a_delete_is_refused,
    one_validation_lease_per_integration_is_held_until_it_ends_or_its_holder_releases_it,
    a_late_release_never_frees_a_lease_someone_else_took_since,
    of_many_concurrent_requests_for_a_free_lease_exactly_one_gets_it,
    the_schedule_cursor_reads_back_as_written_and_a_cleared_one_reads_as_none,
    a_scan_resumed_past_an_integration_continues_with_the_next_even_once_it_is_deleted,
    create_replace_and_delete_are_each_recorded_with_the_actor_and_the_fields_that_changed,
    a_stale_write_or_a_scope_conflict_records_nothing,
    a_create_refused_at_the_limit_or_replayed_by_its_key_records_nothing_more,
    a_report_is_audited_only_when_it_changes_the_health_state_and_a_dropped_one_never,
    of_concurrent_replaces_at_one_version_exactly_the_winner_is_recorded,
    another_org_never_sees_the_audit_trail,
    the_audit_trail_pages_newest_first_and_walks_every_record_once,
    an_audit_cursor_the_store_did_not_issue_is_invalid,
    a_secret_is_only_ever_recorded_as_changed,
    a_large_value_is_recorded_as_its_size,
    a_rotation_makes_a_new_current_id_and_honours_the_old_one_until_its_deadline_audited,
    a_second_rotation_is_refused_while_the_overlap_is_open_and_allowed_after_it,
    completing_ends_the_overlap_now_and_completing_twice_is_refused,
    of_concurrent_rotations_exactly_one_wins,
);

/// The admin every contract change is made by, unless a test names another.
fn by() -> Actor {
    Actor::user(Some("admin-1"))
}

fn org(name: &str) -> OrgId {
    OrgId::parse(name).expect("org id")
}

fn draft(name: &str, scope: Value) -> IntegrationDraft {
    draft_with_role(name, scope, ROLE)
}

fn draft_with_role(name: &str, scope: Value, role: &str) -> IntegrationDraft {
    IntegrationDraft::role_from_json(&json!({
        "name": name, "role_arn": role, "region": "us-east-1", "scope": scope
    }))
    .expect("a valid draft")
}

fn bucket(name: &str) -> Value {
    json!({"type": "bucket", "bucket": name})
}

fn report(state: HealthState, at: &str) -> Status {
    Status {
        state,
        checked_at: Some(at.to_owned()),
        checks: vec![Check {
            code: "ASSUME_ROLE".into(),
            target: "role".into(),
            result: CheckResult::Pass,
            message: format!("checked at {at}"),
        }],
    }
}

async fn a_created_integration_reads_back_as_saved_at_version_one(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.status.state, HealthState::Unverified);
    let read = store.get(&acme, &created.id).await.unwrap();
    assert_eq!(read, created);
}

async fn a_second_integration_on_a_held_scope_conflicts_naming_the_holder_and_stores_nothing(
    store: SharedStore,
) {
    let acme = org("acme");
    let first = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    match store.create(&acme, draft("Again", bucket("acme-photos"))).await {
        Err(StoreError::ScopeConflict { holder_id, holder_name, .. }) => {
            assert_eq!((holder_id.as_str(), holder_name.as_str()), (first.id.as_str(), "Photos"));
        }
        other => panic!("expected a scope conflict, got {other:?}"),
    }
    assert_eq!(store.list_all(&acme).await.unwrap(), vec![first]);
}

async fn an_org_has_one_default_scope(store: SharedStore) {
    let acme = org("acme");
    let scope = |b: &str| json!({"type": "default", "buckets": [b]});
    store.create(&acme, draft("Default", scope("acme-a"))).await.unwrap();
    let second = store.create(&acme, draft("Another default", scope("acme-b"))).await;
    assert!(matches!(second, Err(StoreError::ScopeConflict { .. })), "{second:?}");
    // Another org's default is its own.
    store.create(&org("globex"), draft("Default", scope("acme-b"))).await.unwrap();
}

async fn a_replace_at_a_stale_version_is_refused_naming_the_current_version(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let v2 =
        store.replace(&acme, &by(), &created.id, draft("Renamed", bucket("acme-photos")), 1).await.unwrap();
    assert_eq!(
        (v2.version, v2.name.as_str(), v2.created_at.as_str()),
        (2, "Renamed", created.created_at.as_str())
    );
    match store.replace(&acme, &by(), &created.id, draft("Lost update", bucket("acme-photos")), 1).await {
        Err(StoreError::VersionMismatch { current: 2, sent: 1, .. }) => {}
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    assert_eq!(store.get(&acme, &created.id).await.unwrap().name, "Renamed");
}

async fn a_replace_moves_the_scope_lock(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    store.replace(&acme, &by(), &created.id, draft("Moved", bucket("acme-videos")), 1).await.unwrap();
    // The old scope is free, the new one held.
    store.create(&acme, draft("Photos again", bucket("acme-photos"))).await.unwrap();
    let held = store.create(&acme, draft("Videos again", bucket("acme-videos"))).await;
    match held {
        Err(StoreError::ScopeConflict { holder_name, .. }) => assert_eq!(holder_name, "Moved"),
        other => panic!("expected a scope conflict, got {other:?}"),
    }
}

async fn a_replace_onto_a_held_scope_conflicts_and_changes_nothing(store: SharedStore) {
    let acme = org("acme");
    let photos = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let videos = store.create(&acme, draft("Videos", bucket("acme-videos"))).await.unwrap();
    let moved = store.replace(&acme, &by(), &videos.id, draft("Videos", bucket("acme-photos")), 1).await;
    match moved {
        Err(StoreError::ScopeConflict { holder_id, .. }) => assert_eq!(holder_id, photos.id),
        other => panic!("expected a scope conflict, got {other:?}"),
    }
    assert_eq!(store.get(&acme, &videos.id).await.unwrap(), videos);
    // Its own scope is still its own.
    let again = store.create(&acme, draft("Videos again", bucket("acme-videos"))).await;
    assert!(matches!(again, Err(StoreError::ScopeConflict { .. })), "{again:?}");
}

async fn a_replace_keeps_the_external_id_proof_only_while_the_role_stays(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let proof = ExternalIdProof::new(created.role_arn().unwrap(), true, std::time::SystemTime::now());
    let healthy = report(HealthState::Healthy, "2026-12-02T10:00:00Z");
    assert!(store.record_report(&acme, &by(), &created.id, 1, &healthy, Some(&proof)).await.unwrap());
    let same_role =
        store.replace(&acme, &by(), &created.id, draft("Renamed", bucket("acme-photos")), 1).await.unwrap();
    assert_eq!(same_role.external_id_proof.as_ref(), Some(&proof));
    assert_eq!(same_role.status.state, HealthState::Unverified, "a new configuration is not validated yet");
    let other_role = draft_with_role("Renamed", bucket("acme-photos"), OTHER_ROLE);
    let replaced = store.replace(&acme, &by(), &created.id, other_role, 2).await.unwrap();
    assert_eq!(replaced.external_id_proof, None);
    assert_eq!(store.get(&acme, &created.id).await.unwrap(), replaced);
}

async fn a_delete_frees_the_scope_and_a_stale_delete_is_refused(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    store.replace(&acme, &by(), &created.id, draft("Photos", bucket("acme-photos")), 1).await.unwrap();
    let stale = store.delete(&acme, &by(), &created.id, Some(1)).await;
    assert!(matches!(stale, Err(StoreError::VersionMismatch { current: 2, sent: 1, .. })), "{stale:?}");
    store.delete(&acme, &by(), &created.id, Some(2)).await.unwrap();
    assert!(matches!(store.get(&acme, &created.id).await, Err(StoreError::NotFound { .. })));
    let again = store.delete(&acme, &by(), &created.id, None).await;
    assert!(matches!(again, Err(StoreError::NotFound { .. })), "{again:?}");
    store.create(&acme, draft("Photos again", bucket("acme-photos"))).await.unwrap();
}

async fn another_org_can_neither_see_nor_change_the_integrations(store: SharedStore) {
    let (acme, globex) = (org("acme"), org("globex"));
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let not_found = |result: &Result<_, StoreError>| matches!(result, Err(StoreError::NotFound { .. }));
    assert!(not_found(&store.get(&globex, &created.id).await.map(|_| ())));
    assert!(not_found(
        &store
            .replace(&globex, &by(), &created.id, draft("Mine", bucket("acme-photos")), 1)
            .await
            .map(|_| ())
    ));
    assert!(not_found(&store.delete(&globex, &by(), &created.id, None).await));
    assert!(!store
        .record_report(&globex, &by(), &created.id, 1, &report(HealthState::Failing, "x"), None)
        .await
        .unwrap());
    assert!(store.list_all(&globex).await.unwrap().is_empty());
    assert!(store.report_history(&globex, &created.id, 10).await.unwrap().is_empty());
    // The same scope is free in another org, and acme's integration is untouched.
    store.create(&globex, draft("Photos", bucket("acme-photos"))).await.unwrap();
    assert_eq!(store.get(&acme, &created.id).await.unwrap(), created);
}

async fn create_buckets(store: &SharedStore, org: &OrgId, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let created =
            store.create(org, draft(&format!("B{i}"), bucket(&format!("bucket-{i:03}")))).await.unwrap();
        ids.push(created.id);
    }
    ids.sort();
    ids
}

async fn walk(store: &SharedStore, org: &OrgId, limit: i32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list(org, cursor.as_deref(), limit).await.unwrap();
        pages.push(page.integrations.iter().map(|i| i.id.clone()).collect());
        match page.next {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
}

async fn pages_walk_every_integration_once_in_id_order(store: SharedStore) {
    let acme = org("acme");
    let ids = create_buckets(&store, &acme, 7).await;
    store.external_id(&acme).await.unwrap();
    let pages = walk(&store, &acme, 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert_eq!(pages.concat(), ids, "every integration once, in id order, and nothing else");
}

async fn a_full_last_page_still_offers_a_next_page_that_is_empty(store: SharedStore) {
    let acme = org("acme");
    let ids = create_buckets(&store, &acme, 4).await;
    let pages = walk(&store, &acme, 2).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 0]);
    assert_eq!(pages.concat(), ids);
}

async fn the_page_size_is_clamped_to_one_through_the_maximum(store: SharedStore) {
    let acme = org("acme");
    create_buckets(&store, &acme, 3).await;
    assert_eq!(store.list(&acme, None, 0).await.unwrap().integrations.len(), 1);
    assert_eq!(store.list(&acme, None, -5).await.unwrap().integrations.len(), 1);
    let all = store.list(&acme, None, i32::MAX).await.unwrap();
    assert_eq!(all.integrations.len(), 3);
    assert!(MAX_PAGE_SIZE >= 3 && all.next.is_none());
}

async fn a_cursor_the_store_did_not_issue_is_invalid(store: SharedStore) {
    let acme = org("acme");
    create_buckets(&store, &acme, 2).await;
    for cursor in ["", "zz", "a\u{e9}b", "494e5423", "0", &"ab".repeat(101), "5343 4f50"] {
        let result = store.list(&acme, Some(cursor), 10).await;
        assert!(matches!(result, Err(StoreError::InvalidCursor)), "{cursor:?}: {result:?}");
    }
}

async fn the_external_id_is_created_once_under_concurrent_first_requests(store: SharedStore) {
    let acme = org("acme");
    assert_eq!(store.read_external_id(&acme).await.unwrap(), None, "reading never creates one");
    let asks = (0..8).map(|_| {
        let store = store.clone();
        let acme = acme.clone();
        tokio::spawn(async move { store.external_id(&acme).await.unwrap() })
    });
    let ids: BTreeSet<String> =
        futures::future::join_all(asks).await.into_iter().map(|id| id.unwrap().as_str().to_owned()).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let stored = store.read_external_id(&acme).await.unwrap().expect("created");
    assert!(ids.contains(stored.as_str()));
    assert_ne!(store.external_id(&org("globex")).await.unwrap(), stored, "each org has its own");
}

async fn a_report_is_recorded_only_at_the_validated_version_of_a_live_integration(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let failing = report(HealthState::Failing, "2026-12-02T10:00:00Z");
    assert!(store.record_report(&acme, &by(), &created.id, 1, &failing, None).await.unwrap());
    assert_eq!(store.get(&acme, &created.id).await.unwrap().status, failing);
    store.replace(&acme, &by(), &created.id, draft("Photos", bucket("acme-photos")), 1).await.unwrap();
    let about_v1 = report(HealthState::Healthy, "2026-12-02T10:01:00Z");
    assert!(!store.record_report(&acme, &by(), &created.id, 1, &about_v1, None).await.unwrap(), "dropped");
    assert_eq!(store.get(&acme, &created.id).await.unwrap().status.state, HealthState::Unverified);
    store.delete(&acme, &by(), &created.id, None).await.unwrap();
    assert!(!store.record_report(&acme, &by(), &created.id, 2, &about_v1, None).await.unwrap());
    assert!(
        matches!(store.get(&acme, &created.id).await, Err(StoreError::NotFound { .. })),
        "not resurrected"
    );
}

async fn the_report_history_is_newest_first_and_limited(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let other = store.create(&acme, draft("Videos", bucket("acme-videos"))).await.unwrap();
    for minute in 0..5 {
        let at = format!("2026-12-02T10:0{minute}:00Z");
        assert!(store
            .record_report(&acme, &by(), &created.id, 1, &report(HealthState::Healthy, &at), None)
            .await
            .unwrap());
    }
    store
        .record_report(
            &acme,
            &by(),
            &other.id,
            1,
            &report(HealthState::Failing, "2026-12-02T11:00:00Z"),
            None,
        )
        .await
        .unwrap();
    let history = store.report_history(&acme, &created.id, 3).await.unwrap();
    let times: Vec<_> = history.iter().map(|s| s.checked_at.clone().unwrap_or_default()).collect();
    assert_eq!(times, ["2026-12-02T10:04:00Z", "2026-12-02T10:03:00Z", "2026-12-02T10:02:00Z"]);
}

async fn a_scan_walks_every_integration_of_every_org_exactly_once(store: SharedStore) {
    let mut expected = BTreeSet::new();
    for name in ["acme", "globex", "initech"] {
        let org = org(name);
        for id in create_buckets(&store, &org, 5).await {
            expected.insert((name.to_owned(), id.clone()));
            store
                .record_report(
                    &org,
                    &by(),
                    &id,
                    1,
                    &report(HealthState::Healthy, "2026-12-02T10:00:00Z"),
                    None,
                )
                .await
                .unwrap();
        }
        store.external_id(&org).await.unwrap();
    }
    for page_size in [1, 2, 7, 1000] {
        let mut seen = Vec::new();
        let mut start = None;
        loop {
            let page = store.scan_integrations(page_size, start).await.unwrap();
            assert!(page.found.len() <= page_size as usize);
            seen.extend(page.found.into_iter().map(|s| (s.org.as_str().to_owned(), s.integration.id)));
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let unique: BTreeSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "page size {page_size}: an integration was scanned twice");
        assert_eq!(unique, expected, "page size {page_size}");
    }
}

// ---------------------------------------------------------------------------------------------
// The item format: DynamoDB only (the in-memory store keeps typed values, not items).

/// An integration item exactly as the first release wrote it: no `schema_version` attribute.
fn first_release_item(
    pk: &str,
    id: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue::{Bool, N, S};
    [
        ("pk", S(pk.into())),
        ("sk", S(format!("INT#{id}"))),
        ("kind", S("integration".into())),
        ("id", S(id.into())),
        ("name", S("Legacy photos".into())),
        ("role_arn", S(ROLE.into())),
        ("region", S("eu-west-1".into())),
        ("scope", S(r#"{"type":"bucket","bucket":"acme-photos","prefix":"2024/"}"#.into())),
        ("scope_key", S("s3://acme-photos/2024/".into())),
        ("versioning", Bool(true)),
        ("version", N("3".into())),
        ("created_at", S("2026-01-05T09:00:00Z".into())),
        ("updated_at", S("2026-02-01T09:00:00Z".into())),
        ("status", S(r#"{"state":"healthy","checked_at":"2026-02-01T09:05:00Z","checks":[]}"#.into())),
        (
            "external_id_proof",
            S(format!(r#"{{"role_arn":"{ROLE}","enforced":true,"checked_at":"2026-02-01T09:05:00Z"}}"#)),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test]
async fn an_integration_written_in_the_first_release_format_reads_back_whole() {
    let table = fresh_table().await;
    let id = ulid::Ulid::new().to_string();
    let aws = aws_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    dynamo
        .put_item()
        .table_name(table.table())
        .set_item(Some(first_release_item("ORG#acme", &id)))
        .send()
        .await
        .unwrap();
    let lock = [
        ("pk", "ORG#acme".to_owned()),
        ("sk", "SCOPE#s3://acme-photos/2024/".to_owned()),
        ("kind", "scope".to_owned()),
        ("integration_id", id.clone()),
        ("integration_name", "Legacy photos".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(v)))
    .collect();
    dynamo.put_item().table_name(table.table()).set_item(Some(lock)).send().await.unwrap();
    let read = table.get(&org("acme"), &id).await.unwrap();
    assert_eq!(
        (read.name.as_str(), read.access.aws_role().unwrap().region.as_str(), read.version, read.versioning),
        ("Legacy photos", "eu-west-1", 3, true)
    );
    assert_eq!(read.scope.key(), "s3://acme-photos/2024/");
    assert_eq!(read.status.state, HealthState::Healthy);
    assert!(read.external_id_proof.is_some_and(|p| p.enforced));
    // A replace rewrites it in today's format, with the schema version.
    let replaced =
        table.replace(&org("acme"), &by(), &id, draft("Renamed", bucket("acme-photos")), 3).await.unwrap();
    let raw = dynamo
        .get_item()
        .table_name(table.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("ORG#acme".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("INT#{id}")))
        .send()
        .await
        .unwrap()
        .item
        .expect("the item");
    assert_eq!(raw["schema_version"].as_n().map(String::as_str), Ok("1"));
    assert_eq!(table.get(&org("acme"), &id).await.unwrap(), replaced);
}

/// Writes `item` to the table as it is, past the store (an item an earlier release wrote).
async fn put_raw(
    table: &shared::aws::store::DynamoStore,
    item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) {
    let aws = aws_config().await;
    aws_sdk_dynamodb::Client::new(&aws)
        .put_item()
        .table_name(table.table())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_item_from_a_newer_schema_is_refused_rather_than_misread() {
    let table = fresh_table().await;
    let id = ulid::Ulid::new().to_string();
    let mut item = first_release_item("ORG#acme", &id);
    item.insert("schema_version".into(), aws_sdk_dynamodb::types::AttributeValue::N("2".into()));
    put_raw(&table, item).await;
    match table.get(&org("acme"), &id).await {
        Err(e @ StoreError::Internal(_)) => {
            assert!(e.cause_chain().contains("newer release"), "{}", e.cause_chain())
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_prefix_saved_before_wildcards_were_refused_still_reads_and_its_policy_grants_only_itself() {
    let table = fresh_table().await;
    let id = ulid::Ulid::new().to_string();
    let mut item = first_release_item("ORG#acme", &id);
    item.insert(
        "scope".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(
            r#"{"type":"bucket","bucket":"acme-photos","prefix":"img?/${aws:username}/"}"#.into(),
        ),
    );
    put_raw(&table, item).await;
    let read = table.get(&org("acme"), &id).await.expect("a legacy prefix is not lost");
    assert_eq!(read.scope.prefix().map(|p| p.as_str()), Some("img?/${aws:username}/"));
    let policy = serde_json::to_string(&shared::domain::policy::access_policy(
        read.access.aws_role().unwrap().region.partition(),
        &read.scope,
        read.versioning,
        &[],
    ))
    .unwrap();
    assert!(
        policy.contains("arn:aws:s3:::acme-photos/img${?}/${$}{aws:username}/*"),
        "IAM reads the stored characters literally: {policy}"
    );
    assert!(!policy.contains("img?/") && !policy.contains("/${aws:"), "{policy}");
}

// ---------------------------------------------------------------------------------------------
// The limit per org and idempotent creates.

fn limited(max: u32) -> CreateOptions {
    CreateOptions { max_integrations: max, idempotency: None }
}

fn with_key(key: &str, draft: &IntegrationDraft) -> CreateOptions {
    CreateOptions {
        idempotency: Some(Idempotency { key: key.to_owned(), fingerprint: draft.fingerprint() }),
        ..CreateOptions::default()
    }
}

async fn an_org_at_its_limit_is_refused_until_a_delete_frees_a_place(store: SharedStore) {
    let (acme, other) = (org("acme"), org("other"));
    let first = store.create_with(&acme, &by(), draft("A", bucket("bucket-a")), &limited(2)).await.unwrap();
    store.create_with(&acme, &by(), draft("B", bucket("bucket-b")), &limited(2)).await.unwrap();
    match store.create_with(&acme, &by(), draft("C", bucket("bucket-c")), &limited(2)).await {
        Err(StoreError::TooManyIntegrations { max: 2 }) => {}
        other => panic!("expected the limit, got {other:?}"),
    }
    assert_eq!(store.list_all(&acme).await.unwrap().len(), 2, "the refused create stored nothing");
    assert!(
        store.create_with(&other, &by(), draft("C", bucket("bucket-c")), &limited(2)).await.is_ok(),
        "the limit is per org, and the refused scope was not locked"
    );
    store.delete(&acme, &by(), &first.integration.id, None).await.unwrap();
    store
        .create_with(&acme, &by(), draft("C", bucket("bucket-c")), &limited(2))
        .await
        .expect("a delete frees a place");
}

async fn a_create_retried_with_its_idempotency_key_returns_the_first_integration(store: SharedStore) {
    let acme = org("acme");
    let photos = draft("Photos", bucket("bucket-a"));
    let options = with_key("3f1c2a9e-retry", &photos);
    let first = store.create_with(&acme, &by(), photos.clone(), &options).await.unwrap();
    assert!(!first.replayed);
    let again =
        store.create_with(&acme, &by(), photos.clone(), &options).await.expect("a retry is not a conflict");
    assert!(again.replayed);
    assert_eq!(again.integration, first.integration);
    assert_eq!(store.list_all(&acme).await.unwrap().len(), 1, "one integration, made once");
    // Without the key the same draft is a second create, and its scope is held.
    assert!(matches!(store.create(&acme, photos).await, Err(StoreError::ScopeConflict { .. })));
    // Keys are per org.
    let other =
        store.create_with(&org("other"), &by(), draft("Photos", bucket("bucket-a")), &options).await.unwrap();
    assert!(!other.replayed);
}

async fn an_idempotency_key_sent_with_another_draft_or_after_a_delete_is_refused(store: SharedStore) {
    let acme = org("acme");
    let photos = draft("Photos", bucket("bucket-a"));
    let created = store.create_with(&acme, &by(), photos.clone(), &with_key("k-1", &photos)).await.unwrap();
    let video = draft("Video", bucket("bucket-v"));
    let mut reused = with_key("k-1", &video);
    match store.create_with(&acme, &by(), video.clone(), &reused).await {
        Err(StoreError::IdempotencyKeyReused { .. }) => {}
        other => panic!("expected the key to be refused, got {other:?}"),
    }
    assert_eq!(store.list_all(&acme).await.unwrap().len(), 1, "nothing stored for the reused key");
    store.delete(&acme, &by(), &created.integration.id, None).await.unwrap();
    reused.idempotency = Some(Idempotency { key: "k-1".into(), fingerprint: photos.fingerprint() });
    match store.create_with(&acme, &by(), photos, &reused).await {
        Err(StoreError::IdempotencyKeyReused { .. }) => {}
        other => panic!("a key whose integration was deleted is spent, got {other:?}"),
    }
}

#[tokio::test]
async fn an_org_with_integrations_from_before_the_limit_counts_them_when_it_is_next_written() {
    let table = fresh_table().await;
    for _ in 0..2 {
        let id = ulid::Ulid::new().to_string();
        let mut item = first_release_item("ORG#acme", &id);
        item.insert(
            "scope_key".into(),
            aws_sdk_dynamodb::types::AttributeValue::S(format!("s3://legacy-{id}/")),
        );
        put_raw(&table, item).await;
    }
    let store = table.shared();
    store.create_with(&org("acme"), &by(), draft("Third", bucket("bucket-c")), &limited(3)).await.unwrap();
    match store.create_with(&org("acme"), &by(), draft("Fourth", bucket("bucket-d")), &limited(3)).await {
        Err(StoreError::TooManyIntegrations { max: 3 }) => {}
        other => panic!("the two earlier integrations count: {other:?}"),
    }
}

// ---- the validation lease and the schedule's resume cursor ------------------------------------

/// A time on whole milliseconds: the table keeps a lease's end to the millisecond.
fn at_millis(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

fn now_millis() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn acquired(outcome: LeaseOutcome) -> shared::aws::store::ValidationLease {
    match outcome {
        LeaseOutcome::Acquired(lease) => lease,
        other => panic!("expected the lease, got {other:?}"),
    }
}

fn held_until(outcome: LeaseOutcome) -> SystemTime {
    match outcome {
        LeaseOutcome::Held { until } => until,
        other => panic!("expected it held, got {other:?}"),
    }
}

async fn one_validation_lease_per_integration_is_held_until_it_ends_or_its_holder_releases_it(
    store: SharedStore,
) {
    let (acme, globex) = (org("acme"), org("globex"));
    let photos = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let videos = store.create(&acme, draft("Videos", bucket("acme-videos"))).await.unwrap();
    let (t0, ttl) = (now_millis(), Duration::from_secs(30));

    let first =
        acquired(store.acquire_validation_lease(&acme, &photos.id, at_millis(t0), ttl).await.unwrap());
    assert_eq!(first.until, at_millis(t0) + ttl);
    let later = at_millis(t0 + 10_000);
    assert_eq!(
        held_until(store.acquire_validation_lease(&acme, &photos.id, later, ttl).await.unwrap()),
        first.until
    );
    // Each integration, and each org, has its own.
    acquired(store.acquire_validation_lease(&acme, &videos.id, later, ttl).await.unwrap());
    acquired(store.acquire_validation_lease(&globex, &photos.id, later, ttl).await.unwrap());

    // Released: free at once.
    assert!(store.release_validation_lease(&acme, &first).await.unwrap());
    let second = acquired(store.acquire_validation_lease(&acme, &photos.id, later, ttl).await.unwrap());
    // Never released (its holder died): free from the moment it ends, not a millisecond before.
    let just_before = second.until - Duration::from_millis(1);
    assert_eq!(
        held_until(store.acquire_validation_lease(&acme, &photos.id, just_before, ttl).await.unwrap()),
        second.until
    );
    acquired(store.acquire_validation_lease(&acme, &photos.id, second.until, ttl).await.unwrap());
    // The lease is not the integration: it reads, lists and scans as before.
    assert_eq!(store.get(&acme, &photos.id).await.unwrap(), photos);
    assert_eq!(store.list_all(&acme).await.unwrap().len(), 2);
}

async fn a_late_release_never_frees_a_lease_someone_else_took_since(store: SharedStore) {
    let acme = org("acme");
    let photos = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let (t0, ttl) = (now_millis(), Duration::from_secs(30));
    let dead = acquired(store.acquire_validation_lease(&acme, &photos.id, at_millis(t0), ttl).await.unwrap());
    let taken_over =
        acquired(store.acquire_validation_lease(&acme, &photos.id, dead.until, ttl).await.unwrap());
    assert!(
        !store.release_validation_lease(&acme, &dead).await.unwrap(),
        "no longer the holder's to release"
    );
    let meanwhile = dead.until + Duration::from_secs(1);
    assert_eq!(
        held_until(store.acquire_validation_lease(&acme, &photos.id, meanwhile, ttl).await.unwrap()),
        taken_over.until
    );
    assert!(store.release_validation_lease(&acme, &taken_over).await.unwrap());
    acquired(store.acquire_validation_lease(&acme, &photos.id, meanwhile, ttl).await.unwrap());
}

async fn of_many_concurrent_requests_for_a_free_lease_exactly_one_gets_it(store: SharedStore) {
    let acme = org("acme");
    let photos = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let now = at_millis(now_millis());
    let asks = (0..8).map(|_| {
        let (store, acme, id) = (store.clone(), acme.clone(), photos.id.clone());
        tokio::spawn(async move {
            store.acquire_validation_lease(&acme, &id, now, Duration::from_secs(30)).await.unwrap()
        })
    });
    let outcomes: Vec<LeaseOutcome> =
        futures::future::join_all(asks).await.into_iter().map(|o| o.unwrap()).collect();
    let winners: Vec<_> = outcomes.iter().filter(|o| matches!(o, LeaseOutcome::Acquired(_))).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let until = now + Duration::from_secs(30);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, LeaseOutcome::Acquired(_)) || *o == LeaseOutcome::Held { until }));
}

/// Every integration in scan order, walking pages of `page_size` from `start`.
async fn scan_order(store: &SharedStore, page_size: i32, mut start: Option<ScanCursor>) -> Vec<Scanned> {
    let mut all = Vec::new();
    loop {
        let page = store.scan_integrations(page_size, start).await.unwrap();
        all.extend(page.found);
        match page.next {
            Some(next) => start = Some(next),
            None => return all,
        }
    }
}

fn ids(scanned: &[Scanned]) -> Vec<String> {
    scanned.iter().map(|s| s.integration.id.clone()).collect()
}

async fn the_schedule_cursor_reads_back_as_written_and_a_cleared_one_reads_as_none(store: SharedStore) {
    assert_eq!(store.read_schedule_cursor().await.unwrap(), None, "a new table starts at the beginning");
    let acme = org("acme");
    create_buckets(&store, &acme, 3).await;
    let walk = scan_order(&store, 10, None).await;
    let cursor = ScanCursor::after(&walk[1]);
    store.write_schedule_cursor(Some(&cursor)).await.unwrap();
    assert_eq!(store.read_schedule_cursor().await.unwrap(), Some(cursor.clone()));
    // The cursor's own item is nobody's integration: the walk is unchanged by it.
    assert_eq!(ids(&scan_order(&store, 1, None).await), ids(&walk));
    assert!(store.list_all(&acme).await.unwrap().len() == 3);
    store.write_schedule_cursor(None).await.unwrap();
    assert_eq!(store.read_schedule_cursor().await.unwrap(), None);
    store.write_schedule_cursor(Some(&cursor)).await.unwrap();
    assert_eq!(store.read_schedule_cursor().await.unwrap(), Some(cursor), "and can be set again");
}

async fn a_scan_resumed_past_an_integration_continues_with_the_next_even_once_it_is_deleted(
    store: SharedStore,
) {
    for name in ["acme", "globex", "initech"] {
        let org = org(name);
        create_buckets(&store, &org, 4).await;
        store.external_id(&org).await.unwrap();
    }
    let walk = scan_order(&store, 5, None).await;
    assert_eq!(walk.len(), 12);
    for k in [0, 3, 4, 7, 11] {
        let resumed = scan_order(&store, 3, Some(ScanCursor::after(&walk[k]))).await;
        assert_eq!(ids(&resumed), ids(&walk[k + 1..]), "resumed past integration {k}");
    }
    // The integration a cursor names may be gone by the next run: the walk still goes on after it.
    let k = 5;
    let cursor = ScanCursor::after(&walk[k]);
    store.delete(&walk[k].org, &by(), &walk[k].integration.id, None).await.unwrap();
    assert_eq!(ids(&scan_order(&store, 2, Some(cursor)).await), ids(&walk[k + 1..]));
}

// ---------------------------------------------------------------------------------------------
// The audit trail: every change recorded in its own write, nothing else.
//
// How the trail could be abused, and the test that shuts each door:
// - another org reads or pages into it: `another_org_never_sees_the_audit_trail` (every key is
//   the caller's org; a cursor is only a position in the caller's own partition);
// - a forged cursor (an integration list cursor, bytes, another prefix):
//   `an_audit_cursor_the_store_did_not_issue_is_invalid`;
// - a refused change leaves a record that misleads (a stale version, a held scope, the limit, a
//   replay): `a_stale_write_or_a_scope_conflict_records_nothing`,
//   `a_create_refused_at_the_limit_or_replayed_by_its_key_records_nothing_more`,
//   `of_concurrent_replaces_at_one_version_exactly_the_winner_is_recorded`;
// - a secret leaks through the trail: `a_secret_is_only_ever_recorded_as_changed`;
// - a huge value bloats the trail: `a_large_value_is_recorded_as_its_size`;
// - a hostile `sub` (the schedule's name, markup, quotes, megabytes) and a member reading the
//   trail: the handler tests (`functions/integrations/tests/handler.rs`) and `tests/api/audit.rs`.

async fn trail(store: &SharedStore, org: &OrgId) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.audit_log(org, cursor.as_deref(), MAX_PAGE_SIZE).await.unwrap();
        events.extend(page.events);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return events,
        }
    }
}

fn actions(events: &[AuditEvent]) -> Vec<Action> {
    events.iter().map(|e| e.action).collect()
}

fn values(before: Value, after: Value) -> Change {
    Change::Values { before, after }
}

async fn create_replace_and_delete_are_each_recorded_with_the_actor_and_the_fields_that_changed(
    store: SharedStore,
) {
    let acme = org("acme");
    let alice = Actor::user(Some("alice@acme"));
    let bob = Actor::user(Some("bob@acme"));
    let created = store
        .create_with(&acme, &alice, draft("Photos", bucket("acme-photos")), &CreateOptions::default())
        .await
        .unwrap()
        .integration;
    store.replace(&acme, &bob, &created.id, draft("Pictures", bucket("acme-photos")), 1).await.unwrap();
    store.delete(&acme, &alice, &created.id, Some(2)).await.unwrap();

    let events = trail(&store, &acme).await;
    assert_eq!(actions(&events), [Action::Deleted, Action::Replaced, Action::Created], "newest first");
    let [deleted, replaced, made] = &events[..] else { panic!("{events:?}") };
    for event in &events {
        assert_eq!(event.integration_id, created.id);
        assert!(shared::domain::clock::parse_rfc3339(&event.at).is_some(), "{}", event.at);
    }
    assert_eq!((made.actor.as_str(), made.actor_type, made.version), ("alice@acme", ActorKind::User, 1));
    assert_eq!(made.changes["name"], values(Value::Null, json!("Photos")));
    assert_eq!(made.changes["role_arn"], values(Value::Null, json!(ROLE)));
    assert_eq!(
        made.changes["scope"],
        values(Value::Null, json!({"type": "bucket", "bucket": "acme-photos"}))
    );
    assert_eq!((replaced.actor.as_str(), replaced.version), ("bob@acme", 2));
    assert_eq!(
        replaced.changes.keys().collect::<Vec<_>>(),
        ["name"],
        "only what changed: {:?}",
        replaced.changes
    );
    assert_eq!(replaced.changes["name"], values(json!("Photos"), json!("Pictures")));
    assert_eq!((deleted.actor.as_str(), deleted.version), ("alice@acme", 2));
    assert_eq!(deleted.changes["name"], values(json!("Pictures"), Value::Null));
    assert!(!events.iter().any(|e| e.changes.contains_key("version") || e.changes.contains_key("status")));
}

async fn a_stale_write_or_a_scope_conflict_records_nothing(store: SharedStore) {
    let acme = org("acme");
    let photos = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let videos = store.create(&acme, draft("Videos", bucket("acme-videos"))).await.unwrap();
    store.replace(&acme, &by(), &photos.id, draft("Photos", bucket("acme-photos")), 1).await.unwrap();
    let before = trail(&store, &acme).await;

    let stale = store.replace(&acme, &by(), &photos.id, draft("Lost", bucket("acme-photos")), 1).await;
    assert!(matches!(stale, Err(StoreError::VersionMismatch { .. })), "{stale:?}");
    let stale_delete = store.delete(&acme, &by(), &photos.id, Some(1)).await;
    assert!(matches!(stale_delete, Err(StoreError::VersionMismatch { .. })), "{stale_delete:?}");
    let onto_held = store.replace(&acme, &by(), &videos.id, draft("Videos", bucket("acme-photos")), 1).await;
    assert!(matches!(onto_held, Err(StoreError::ScopeConflict { .. })), "{onto_held:?}");
    let created_onto_held = store.create(&acme, draft("Again", bucket("acme-videos"))).await;
    assert!(matches!(created_onto_held, Err(StoreError::ScopeConflict { .. })), "{created_onto_held:?}");
    let missing = store.delete(&acme, &by(), "01JD8Q4V6W5X2Y3Z4A5B6C7D8E", None).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");

    assert_eq!(trail(&store, &acme).await, before, "no refused change left a record");
}

async fn a_create_refused_at_the_limit_or_replayed_by_its_key_records_nothing_more(store: SharedStore) {
    let acme = org("acme");
    store.create_with(&acme, &by(), draft("A", bucket("bucket-a")), &limited(1)).await.unwrap();
    let refused = store.create_with(&acme, &by(), draft("B", bucket("bucket-b")), &limited(1)).await;
    assert!(matches!(refused, Err(StoreError::TooManyIntegrations { .. })), "{refused:?}");
    assert_eq!(actions(&trail(&store, &acme).await), [Action::Created]);

    let keyed = draft("C", bucket("bucket-c"));
    let options = with_key("key-1", &keyed);
    let first = store.create_with(&acme, &by(), keyed.clone(), &options).await.unwrap();
    let replayed = store.create_with(&acme, &by(), keyed, &options).await.unwrap();
    assert!(replayed.replayed && replayed.integration.id == first.integration.id);
    assert_eq!(
        actions(&trail(&store, &acme).await),
        [Action::Created, Action::Created],
        "one per create made"
    );
}

async fn a_report_is_audited_only_when_it_changes_the_health_state_and_a_dropped_one_never(
    store: SharedStore,
) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let healthy = |at: &str| report(HealthState::Healthy, at);
    let schedule = Actor::schedule();
    assert!(store.record_report(&acme, &schedule, &created.id, 1, &healthy("t1"), None).await.unwrap());
    assert!(store.record_report(&acme, &schedule, &created.id, 1, &healthy("t2"), None).await.unwrap());
    let failing = report(HealthState::Failing, "t3");
    assert!(store.record_report(&acme, &by(), &created.id, 1, &failing, None).await.unwrap());
    // About a version that is gone: dropped, and not audited either.
    store.replace(&acme, &by(), &created.id, draft("Photos", bucket("acme-photos")), 1).await.unwrap();
    assert!(!store.record_report(&acme, &schedule, &created.id, 1, &healthy("t4"), None).await.unwrap());

    let events = trail(&store, &acme).await;
    assert_eq!(
        actions(&events),
        [Action::Replaced, Action::ValidationStateChanged, Action::ValidationStateChanged, Action::Created]
    );
    let (to_failing, to_healthy) = (&events[1], &events[2]);
    assert_eq!((to_healthy.actor.as_str(), to_healthy.actor_type), (Actor::SCHEDULE, ActorKind::System));
    assert_eq!(to_healthy.changes["state"], values(json!("unverified"), json!("healthy")));
    assert_eq!((to_failing.actor.as_str(), to_failing.version), ("admin-1", 1));
    assert_eq!(to_failing.changes["state"], values(json!("healthy"), json!("failing")));
}

async fn of_concurrent_replaces_at_one_version_exactly_the_winner_is_recorded(store: SharedStore) {
    let acme = org("acme");
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    let attempts = (0..6).map(|n| {
        let (store, acme, id) = (store.clone(), acme.clone(), created.id.clone());
        tokio::spawn(async move {
            let actor = Actor::user(Some(&format!("admin-{n}")));
            store.replace(&acme, &actor, &id, draft(&format!("Name {n}"), bucket("acme-photos")), 1).await
        })
    });
    let results: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let replaced: Vec<_> =
        trail(&store, &acme).await.into_iter().filter(|e| e.action == Action::Replaced).collect();
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert_eq!(replaced[0].changes["name"], values(json!("Photos"), json!(winners[0].name)));
}

async fn another_org_never_sees_the_audit_trail(store: SharedStore) {
    let (acme, globex) = (org("acme"), org("globex"));
    let created = store.create(&acme, draft("Photos", bucket("acme-photos"))).await.unwrap();
    store.delete(&acme, &by(), &created.id, None).await.unwrap();
    let page = store.audit_log(&acme, None, 1).await.unwrap();
    assert!(store.audit_log(&globex, None, 100).await.unwrap().events.is_empty());
    // acme's own cursor, presented by globex, starts in globex's partition: still nothing of acme's.
    let next = page.next.expect("a full page offers a next page");
    assert!(store.audit_log(&globex, Some(&next), 100).await.unwrap().events.is_empty());
    // Nor can globex's writes touch acme's trail.
    let refused = store.delete(&globex, &by(), &created.id, None).await;
    assert!(matches!(refused, Err(StoreError::NotFound { .. })), "{refused:?}");
    assert_eq!(trail(&store, &acme).await.len(), 2);
}

async fn the_audit_trail_pages_newest_first_and_walks_every_record_once(store: SharedStore) {
    let acme = org("acme");
    let mut made = Vec::new();
    for n in 0..7 {
        made.push(
            store.create(&acme, draft(&format!("N{n}"), bucket(&format!("bucket-{n}")))).await.unwrap().id,
        );
    }
    made.reverse();
    for limit in [1, 3, 7, 100] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = store.audit_log(&acme, cursor.as_deref(), limit).await.unwrap();
            assert!(page.events.len() <= usize::try_from(limit).unwrap());
            seen.extend(page.events.into_iter().map(|e| e.integration_id));
            pages += 1;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, made, "limit {limit}: newest first, each once");
        assert!(pages <= 7 / usize::try_from(limit).unwrap() + 2, "limit {limit}: {pages} pages");
    }
    // Out-of-range limits are clamped, as for the integrations list.
    assert_eq!(store.audit_log(&acme, None, 0).await.unwrap().events.len(), 1);
    assert_eq!(store.audit_log(&acme, None, 10_000).await.unwrap().events.len(), 7);
}

async fn an_audit_cursor_the_store_did_not_issue_is_invalid(store: SharedStore) {
    let acme = org("acme");
    store.create(&acme, draft("A", bucket("bucket-a"))).await.unwrap();
    store.create(&acme, draft("B", bucket("bucket-b"))).await.unwrap();
    let list_cursor = store.list(&acme, None, 1).await.unwrap().next.expect("a next page");
    let report_key: String = "REPORT#x".bytes().map(|b| format!("{b:02x}")).collect();
    for forged in [list_cursor.as_str(), "zz", "", "41554449542341", report_key.as_str(), "\u{e9}\u{e9}"] {
        let page = store.audit_log(&acme, Some(forged), 10).await;
        assert!(matches!(page, Err(StoreError::InvalidCursor)), "{forged:?}: {page:?}");
    }
}

fn s3_compatible_draft(name: &str, key_id: &str, ciphertext: &[u8]) -> IntegrationDraft {
    IntegrationDraft::from_json(&json!({
        "kind": "s3_compatible", "name": name, "endpoint": "https://s3.store.example.com",
        "access_key_id": key_id, "secret_access_key": "the-plaintext-secret-0123456789",
        "scope": {"type": "bucket", "bucket": "store-photos"},
    }))
    .expect("a valid draft")
    .map_secret(|_| {
        Ok::<_, ()>(shared::domain::s3_compatible::SealedSecret::from_ciphertext(ciphertext.to_vec()))
    })
    .expect("sealed")
}

async fn a_secret_is_only_ever_recorded_as_changed(store: SharedStore) {
    let acme = org("acme");
    let (first, second) = (b"CIPHERTEXT-ONE-0123".as_slice(), b"CIPHERTEXT-TWO-4567".as_slice());
    let created = store.create(&acme, s3_compatible_draft("Store", "reader", first)).await.unwrap();
    // Renamed, the secret kept (the same sealed bytes): no secret change.
    store
        .replace(&acme, &by(), &created.id, s3_compatible_draft("Store 2", "reader", first), 1)
        .await
        .unwrap();
    // A new secret: only "changed".
    store
        .replace(&acme, &by(), &created.id, s3_compatible_draft("Store 2", "reader", second), 2)
        .await
        .unwrap();
    store.delete(&acme, &by(), &created.id, None).await.unwrap();

    let events = trail(&store, &acme).await;
    let secret = |e: &AuditEvent| e.changes.get("secret_access_key").cloned();
    assert_eq!(
        events.iter().map(secret).collect::<Vec<_>>(),
        [Some(Change::Secret), Some(Change::Secret), None, Some(Change::Secret)]
    );
    let text = serde_json::to_string(&events).unwrap();
    for leak in ["the-plaintext-secret", "CIPHERTEXT", "Q0lQSEVSVEVYVC", "434950484552"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    assert!(text.contains(r#""secret_access_key":"changed""#), "{text}");
}

async fn a_large_value_is_recorded_as_its_size(store: SharedStore) {
    let acme = org("acme");
    let buckets: Vec<String> =
        (0..60).map(|n| format!("acme-a-rather-long-bucket-name-number-{n:03}")).collect();
    let created = store
        .create(&acme, draft("Everything", json!({"type": "default", "buckets": buckets})))
        .await
        .unwrap();
    let events = trail(&store, &acme).await;
    let Change::Values { after, .. } = &events[0].changes["scope"] else { panic!("{events:?}") };
    let shown = after.as_str().unwrap_or_default();
    assert!(shown.ends_with("bytes, too large to show)"), "{after}");
    assert!(serde_json::to_string(&events[0]).unwrap().len() < 4096);
    assert_eq!(events[0].integration_id, created.id);
}

// ---- external-ID rotation ------------------------------------------------------------------------

const DAY: Duration = Duration::from_secs(86_400);

async fn a_rotation_makes_a_new_current_id_and_honours_the_old_one_until_its_deadline_audited(
    store: SharedStore,
) {
    let org = org("acme");
    let first = store.external_id(&org).await.unwrap();
    let now = SystemTime::now();
    let rotated = store.rotate_external_id(&org, &by(), now, now + 30 * DAY).await.unwrap();
    assert_ne!(rotated.current, first, "a fresh current ID");
    assert_eq!(rotated.previous_at(now), Some(&first), "the old one is honoured during the overlap");
    assert_eq!(store.read_external_ids(&org).await.unwrap(), Some(rotated.clone()), "reads back as written");
    assert_eq!(store.read_external_id(&org).await.unwrap(), Some(rotated.current.clone()));
    assert_eq!(
        store.external_id(&org).await.unwrap(),
        rotated.current,
        "the current ID is what policies render"
    );
    assert_eq!(rotated.previous_at(now + 30 * DAY), None, "the deadline ends the overlap by itself");
    let events = trail(&store, &org).await;
    assert_eq!(actions(&events), [Action::ExternalIdRotationStarted]);
    assert_eq!(events[0].actor, by().id());
    assert_eq!((events[0].integration_id.as_str(), events[0].version), ("", 0));
    let Change::Values { before, after } = &events[0].changes["external_ids"] else { panic!("{events:?}") };
    assert_eq!(
        (before["current"].as_str(), after["previous"].as_str()),
        (Some(first.as_str()), Some(first.as_str()))
    );
    assert_eq!(after["current"], rotated.current.as_str());
    let globex = OrgId::parse("globex").unwrap();
    assert!(store.read_external_ids(&globex).await.unwrap().is_none(), "another org is untouched");
}

async fn a_second_rotation_is_refused_while_the_overlap_is_open_and_allowed_after_it(store: SharedStore) {
    let org = org("acme");
    let now = SystemTime::now();
    let rotated = store.rotate_external_id(&org, &by(), now, now + DAY).await.unwrap();
    let again = store.rotate_external_id(&org, &by(), now, now + DAY).await;
    assert!(matches!(again, Err(StoreError::RotationInProgress { .. })), "{again:?}");
    assert_eq!(store.read_external_ids(&org).await.unwrap(), Some(rotated.clone()), "nothing changed");
    assert_eq!(trail(&store, &org).await.len(), 1, "a refused rotation records nothing");
    let later = now + DAY;
    let next = store.rotate_external_id(&org, &by(), later, later + DAY).await.unwrap();
    assert_eq!(next.previous_at(later), Some(&rotated.current), "the overlap had ended: a new one starts");
}

async fn completing_ends_the_overlap_now_and_completing_twice_is_refused(store: SharedStore) {
    let org = org("acme");
    assert!(matches!(
        store.complete_rotation(&org, &by(), SystemTime::now()).await,
        Err(StoreError::NoRotation)
    ));
    let now = SystemTime::now();
    let rotated = store.rotate_external_id(&org, &by(), now, now + 30 * DAY).await.unwrap();
    let completed = store.complete_rotation(&org, &by(), now).await.unwrap();
    assert_eq!((completed.current.clone(), completed.rotation.clone()), (rotated.current.clone(), None));
    assert_eq!(store.read_external_ids(&org).await.unwrap(), Some(completed));
    assert!(matches!(store.complete_rotation(&org, &by(), now).await, Err(StoreError::NoRotation)));
    assert_eq!(
        actions(&trail(&store, &org).await),
        [Action::ExternalIdRotationCompleted, Action::ExternalIdRotationStarted],
        "newest first; the refused completion recorded nothing"
    );
}

async fn of_concurrent_rotations_exactly_one_wins(store: SharedStore) {
    let org = org("acme");
    store.external_id(&org).await.unwrap();
    let now = SystemTime::now();
    let admin = by();
    let attempts =
        futures::future::join_all((0..8).map(|_| store.rotate_external_id(&org, &admin, now, now + DAY)))
            .await;
    let won: Vec<_> = attempts.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{attempts:?}");
    assert!(attempts.iter().all(|a| a.is_ok()
        || matches!(a, Err(StoreError::RotationInProgress { .. }) | Err(StoreError::Contended(_)))));
    assert_eq!(store.read_external_ids(&org).await.unwrap().as_ref(), Some(won[0]));
    assert_eq!(trail(&store, &org).await.len(), 1, "one record, the winner's");
}
