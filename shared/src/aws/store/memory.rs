//! [`IntegrationStore`] in process memory, for handler tests that run without an emulator. It is a
//! real store, not a mock: the same key space as the table (`pk`, `sk`, one ordered map), every
//! write checked and applied under one lock the way DynamoDB applies a conditional transaction,
//! and pages cut the way DynamoDB cuts them (`Limit` counts the items evaluated, so a scan page
//! may find no integration yet still have a next page). The contract suite holds it to
//! [`super::DynamoStore`]'s behaviour on the emulator.

use super::{
    audit_event, audit_sk, decode_audit_cursor, decode_cursor, encode_cursor, first_version,
    generate_external_id, idempotency_sk, integration_sk, lease_sk, new_lease, next_version, rotation_step,
    valid_id, AuditPage, CreateOptions, Created, IntegrationStore, LeaseOutcome, Page, RotationStep,
    ScanCursor, ScanPage, Scanned, StoreError, StoreFuture, ValidationLease, CHANGED_WHILE_DELETING,
    MAX_PAGE_SIZE, SCHEDULE_CURSOR_PK, SCHEDULE_CURSOR_SK,
};
use crate::domain::audit::{changes_between, state_change, Action, Actor, AuditEvent};
use crate::domain::external_id::ExternalIdProof;
use crate::domain::external_id::{ExternalId, ExternalIds};
use crate::domain::integration::{Integration, IntegrationDraft, Status};
use crate::domain::org::OrgId;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

type Key = (String, String);

#[derive(Debug, Clone)]
enum Entry {
    Integration(Box<Integration>),
    ScopeLock {
        id: String,
        name: String,
    },
    ExternalId(ExternalIds),
    Report(Status),
    /// A create's idempotency key: the integration it made and the draft's fingerprint.
    Idempotency {
        id: String,
        fingerprint: String,
    },
    Lease {
        token: String,
        until: SystemTime,
    },
    ScheduleCursor(Option<ScanCursor>),
    /// An audit record. Kept until the store is dropped: the table's TTL has no twin here, as no
    /// test runs for a retention period.
    Audit(Box<AuditEvent>),
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<BTreeMap<Key, Entry>>,
}

fn pk(org: &OrgId) -> String {
    format!("ORG#{}", org.as_str())
}

fn lock_sk(scope_key: &str) -> String {
    format!("SCOPE#{scope_key}")
}

const EXTERNAL_ID_SK: &str = "EXTERNAL_ID";

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The map, even after a panic elsewhere poisoned the lock: every write below completes its
    /// checks before it changes anything, so a poisoned map is still consistent.
    fn items(&self) -> MutexGuard<'_, BTreeMap<Key, Entry>> {
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many items the org has, of every kind (tests prove a refused write stored nothing).
    pub fn item_count(&self, org: &OrgId) -> usize {
        let pk = pk(org);
        self.items().keys().filter(|(p, _)| *p == pk).count()
    }

    fn current(items: &BTreeMap<Key, Entry>, org: &OrgId, id: &str) -> Result<Integration, StoreError> {
        if !valid_id(id) {
            return Err(StoreError::not_found(id));
        }
        match items.get(&(pk(org), integration_sk(id))) {
            Some(Entry::Integration(integration)) => Ok((**integration).clone()),
            _ => Err(StoreError::not_found(id)),
        }
    }

    fn conflict(items: &BTreeMap<Key, Entry>, org: &OrgId, scope_key: &str) -> StoreError {
        let (holder_id, holder_name) = match items.get(&(pk(org), lock_sk(scope_key))) {
            Some(Entry::ScopeLock { id, name }) => (id.clone(), name.clone()),
            _ => Default::default(),
        };
        StoreError::ScopeConflict { scope_key: scope_key.to_owned(), holder_id, holder_name }
    }

    /// Writes the record of a change; called only once every condition of the change has held,
    /// under the same lock, as the table writes it in the change's transaction.
    fn audit(items: &mut BTreeMap<Key, Entry>, org: &OrgId, event: AuditEvent) {
        items.insert((pk(org), audit_sk(&event.id)), Entry::Audit(Box::new(event)));
    }

    fn lock_for(integration: &Integration) -> Entry {
        Entry::ScopeLock { id: integration.id.clone(), name: integration.name.clone() }
    }

    fn create_now(
        &self,
        org: &OrgId,
        actor: &Actor,
        draft: IntegrationDraft,
        options: &CreateOptions,
    ) -> Result<Created, StoreError> {
        let integration = first_version(draft);
        let scope_key = integration.scope.key();
        let mut items = self.items();
        // The table's transaction checks these conditions together; the key is looked at first,
        // as a replayed create also finds its scope held (by itself).
        if let Some(idempotency) = &options.idempotency {
            if let Some(Entry::Idempotency { id, fingerprint }) =
                items.get(&(pk(org), idempotency_sk(&idempotency.key)))
            {
                if *fingerprint != idempotency.fingerprint {
                    return Err(StoreError::IdempotencyKeyReused { reason: super::KEY_FOR_ANOTHER_DRAFT });
                }
                return match Self::current(&items, org, id) {
                    Ok(integration) => Ok(Created { integration, replayed: true }),
                    Err(_) => {
                        Err(StoreError::IdempotencyKeyReused { reason: super::KEY_FOR_A_DELETED_INTEGRATION })
                    }
                };
            }
        }
        let lock = (pk(org), lock_sk(&scope_key));
        if items.contains_key(&lock) {
            return Err(Self::conflict(&items, org, &scope_key));
        }
        let pk = pk(org);
        let count = items
            .range((pk.clone(), "INT#".to_owned())..)
            .take_while(|((p, sk), _)| *p == pk && sk.starts_with("INT#"))
            .count();
        if count >= options.max_integrations as usize {
            return Err(StoreError::TooManyIntegrations { max: options.max_integrations });
        }
        items.insert(lock, Self::lock_for(&integration));
        items.insert(
            (pk.clone(), integration_sk(&integration.id)),
            Entry::Integration(Box::new(integration.clone())),
        );
        if let Some(idempotency) = &options.idempotency {
            items.insert(
                (pk, idempotency_sk(&idempotency.key)),
                Entry::Idempotency {
                    id: integration.id.clone(),
                    fingerprint: idempotency.fingerprint.clone(),
                },
            );
        }
        let event =
            audit_event(actor, Action::Created, &integration, changes_between(None, Some(&integration)));
        Self::audit(&mut items, org, event);
        Ok(Created { integration, replayed: false })
    }

    fn replace_now(
        &self,
        org: &OrgId,
        actor: &Actor,
        id: &str,
        draft: IntegrationDraft,
        expected_version: u64,
    ) -> Result<Integration, StoreError> {
        let mut items = self.items();
        let current = Self::current(&items, org, id)?;
        if current.version != expected_version {
            return Err(StoreError::stale(id, current.version, expected_version));
        }
        let updated = next_version(&current, draft);
        let (old_key, new_key) = (current.scope.key(), updated.scope.key());
        if old_key != new_key {
            if items.contains_key(&(pk(org), lock_sk(&new_key))) {
                return Err(Self::conflict(&items, org, &new_key));
            }
            items.remove(&(pk(org), lock_sk(&old_key)));
        }
        items.insert((pk(org), lock_sk(&new_key)), Self::lock_for(&updated));
        items.insert((pk(org), integration_sk(id)), Entry::Integration(Box::new(updated.clone())));
        let event =
            audit_event(actor, Action::Replaced, &updated, changes_between(Some(&current), Some(&updated)));
        Self::audit(&mut items, org, event);
        Ok(updated)
    }

    fn delete_now(
        &self,
        org: &OrgId,
        actor: &Actor,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut items = self.items();
        let current = Self::current(&items, org, id)?;
        if let Some(expected) = expected_version {
            if current.version != expected {
                return Err(StoreError::stale(id, current.version, expected));
            }
        }
        let lock = (pk(org), lock_sk(&current.scope.key()));
        match items.get(&lock) {
            Some(Entry::ScopeLock { id: holder, .. }) if holder == id => {}
            // The table's transaction would fail on the lock's condition the same way.
            _ => return Err(StoreError::Contended(CHANGED_WHILE_DELETING)),
        }
        items.remove(&lock);
        items.remove(&(pk(org), integration_sk(id)));
        let event = audit_event(actor, Action::Deleted, &current, changes_between(Some(&current), None));
        Self::audit(&mut items, org, event);
        Ok(())
    }

    fn list_now(&self, org: &OrgId, cursor: Option<&str>, limit: i32) -> Result<Page, StoreError> {
        let limit = usize::try_from(limit.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1);
        let pk = pk(org);
        let after = match cursor {
            Some(cursor) => Bound::Excluded((pk.clone(), decode_cursor(cursor)?)),
            None => Bound::Included((pk.clone(), "INT#".to_owned())),
        };
        let items = self.items();
        let integrations: Vec<Integration> = items
            .range((after, Bound::Unbounded))
            .take_while(|((p, sk), _)| *p == pk && sk.starts_with("INT#"))
            .filter_map(|(_, entry)| match entry {
                Entry::Integration(integration) => Some((**integration).clone()),
                _ => None,
            })
            .take(limit)
            .collect();
        // DynamoDB offers a next page whenever the page is full, even if nothing follows.
        let next = (integrations.len() == limit)
            .then(|| integrations.last().map(|last| encode_cursor(&integration_sk(&last.id))))
            .flatten();
        Ok(Page { integrations, next })
    }

    fn external_id_now(&self, org: &OrgId) -> Result<ExternalId, StoreError> {
        let mut items = self.items();
        Ok(Self::external_ids_in(&mut items, org)?.current)
    }

    /// The org's external IDs, the first created now when it has none (under the caller's lock).
    fn external_ids_in(items: &mut BTreeMap<Key, Entry>, org: &OrgId) -> Result<ExternalIds, StoreError> {
        let key = (pk(org), EXTERNAL_ID_SK.to_owned());
        if let Some(Entry::ExternalId(existing)) = items.get(&key) {
            return Ok(existing.clone());
        }
        let fresh = ExternalIds::single(generate_external_id()?);
        items.insert(key, Entry::ExternalId(fresh.clone()));
        Ok(fresh)
    }

    fn read_external_ids_now(&self, org: &OrgId) -> Option<ExternalIds> {
        match self.items().get(&(pk(org), EXTERNAL_ID_SK.to_owned())) {
            Some(Entry::ExternalId(existing)) => Some(existing.clone()),
            _ => None,
        }
    }

    fn rotation_now(
        &self,
        org: &OrgId,
        actor: &Actor,
        now: SystemTime,
        step: RotationStep,
    ) -> Result<ExternalIds, StoreError> {
        let mut items = self.items();
        let key = (pk(org), EXTERNAL_ID_SK.to_owned());
        let before = match step {
            RotationStep::Start { .. } => Self::external_ids_in(&mut items, org)?,
            RotationStep::Complete => match items.get(&key) {
                Some(Entry::ExternalId(ids)) => ids.clone(),
                _ => return Err(StoreError::NoRotation),
            },
        };
        let (after, event) = rotation_step(&before, step, actor, now)?;
        items.insert(key, Entry::ExternalId(after.clone()));
        Self::audit(&mut items, org, event);
        Ok(after)
    }
    fn record_report_now(
        &self,
        org: &OrgId,
        actor: &Actor,
        id: &str,
        validated_version: u64,
        report: &Status,
        proof: Option<&ExternalIdProof>,
    ) -> bool {
        let mut items = self.items();
        let Some(Entry::Integration(integration)) = items.get_mut(&(pk(org), integration_sk(id))) else {
            return false;
        };
        if integration.version != validated_version {
            return false;
        }
        let before = integration.status.state;
        integration.status = report.clone();
        if let Some(proof) = proof {
            integration.external_id_proof = Some(proof.clone());
        }
        let event = (before != report.state).then(|| {
            audit_event(
                actor,
                Action::ValidationStateChanged,
                integration,
                state_change(before, report.state),
            )
        });
        if let Some(event) = event {
            Self::audit(&mut items, org, event);
        }
        let checked_at = report.checked_at.clone().unwrap_or_else(crate::domain::clock::now_rfc3339);
        let sk = format!("REPORT#{id}#{checked_at}#{}", ulid::Ulid::new());
        items.insert((pk(org), sk), Entry::Report(report.clone()));
        true
    }

    fn audit_log_now(&self, org: &OrgId, cursor: Option<&str>, limit: i32) -> Result<AuditPage, StoreError> {
        let limit = usize::try_from(limit.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1);
        let pk = pk(org);
        // Newest first: walk the org's `AUDIT#` keys backwards, from before the cursor's key.
        let before = match cursor {
            Some(cursor) => Bound::Excluded((pk.clone(), decode_audit_cursor(cursor)?)),
            None => Bound::Excluded((pk.clone(), "AUDIT$".to_owned())),
        };
        let items = self.items();
        let events: Vec<AuditEvent> = items
            .range((Bound::Included((pk.clone(), "AUDIT#".to_owned())), before))
            .rev()
            .filter_map(|(_, entry)| match entry {
                Entry::Audit(event) => Some((**event).clone()),
                _ => None,
            })
            .take(limit)
            .collect();
        // DynamoDB offers a next page whenever the page is full, even if nothing follows.
        let next = (events.len() == limit)
            .then(|| events.last().map(|last| encode_cursor(&audit_sk(&last.id))))
            .flatten();
        Ok(AuditPage { events, next })
    }

    fn report_history_now(&self, org: &OrgId, id: &str, limit: i32) -> Vec<Status> {
        let (pk, prefix) = (pk(org), format!("REPORT#{id}#"));
        let items = self.items();
        items
            .range((pk.clone(), prefix.clone())..)
            .take_while(|((p, sk), _)| *p == pk && sk.starts_with(&prefix))
            .filter_map(|(_, entry)| match entry {
                Entry::Report(status) => Some(status.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(usize::try_from(limit.max(0)).unwrap_or(0))
            .collect()
    }

    fn acquire_lease_now(&self, org: &OrgId, id: &str, now: SystemTime, ttl: Duration) -> LeaseOutcome {
        let mut items = self.items();
        let key = (pk(org), lease_sk(id));
        if let Some(Entry::Lease { until, .. }) = items.get(&key) {
            // The table's condition: taken only while absent or ended (`lease_until <= now`).
            if *until > now {
                return LeaseOutcome::Held { until: *until };
            }
        }
        let lease = new_lease(id, now, ttl);
        items.insert(key, Entry::Lease { token: lease.token.clone(), until: lease.until });
        LeaseOutcome::Acquired(lease)
    }

    fn release_lease_now(&self, org: &OrgId, lease: &ValidationLease) -> bool {
        let mut items = self.items();
        match items.get_mut(&(pk(org), lease_sk(&lease.id))) {
            Some(Entry::Lease { token, until }) if *token == lease.token => {
                // Ended, not removed: the table's item stays until its TTL too (validate may not delete).
                *until = std::time::UNIX_EPOCH;
                true
            }
            _ => false,
        }
    }

    fn schedule_cursor_key() -> Key {
        (SCHEDULE_CURSOR_PK.to_owned(), SCHEDULE_CURSOR_SK.to_owned())
    }

    fn scan_now(&self, page_size: i32, start: Option<ScanCursor>) -> Result<ScanPage, StoreError> {
        let page_size = usize::try_from(page_size.max(1)).unwrap_or(1);
        let from = match start {
            Some(cursor) => Bound::Excluded((cursor.pk, cursor.sk)),
            None => Bound::Unbounded,
        };
        let items = self.items();
        let evaluated: Vec<(&Key, &Entry)> = items.range((from, Bound::Unbounded)).take(page_size).collect();
        let mut found = Vec::new();
        for ((p, _), entry) in &evaluated {
            if let Entry::Integration(integration) = entry {
                let org = p
                    .strip_prefix("ORG#")
                    .and_then(|o| OrgId::parse(o).ok())
                    .ok_or_else(|| StoreError::corrupt("pk"))?;
                found.push(Scanned { org, integration: (**integration).clone() });
            }
        }
        let next = (evaluated.len() == page_size)
            .then(|| evaluated.last().map(|((pk, sk), _)| ScanCursor { pk: pk.clone(), sk: sk.clone() }))
            .flatten();
        Ok(ScanPage { found, next })
    }
}

impl IntegrationStore for MemoryStore {
    fn create_with<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        draft: IntegrationDraft,
        options: &'a CreateOptions,
    ) -> StoreFuture<'a, Created> {
        Box::pin(async move { self.create_now(org, actor, draft, options) })
    }

    fn get<'a>(&'a self, org: &'a OrgId, id: &'a str) -> StoreFuture<'a, Integration> {
        Box::pin(async move { Self::current(&self.items(), org, id) })
    }

    fn list<'a>(&'a self, org: &'a OrgId, cursor: Option<&'a str>, limit: i32) -> StoreFuture<'a, Page> {
        Box::pin(async move { self.list_now(org, cursor, limit) })
    }

    fn replace<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        draft: IntegrationDraft,
        expected_version: u64,
    ) -> StoreFuture<'a, Integration> {
        Box::pin(async move { self.replace_now(org, actor, id, draft, expected_version) })
    }

    fn delete<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        expected_version: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.delete_now(org, actor, id, expected_version) })
    }

    fn external_id<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, ExternalId> {
        Box::pin(async move { self.external_id_now(org) })
    }

    fn read_external_ids<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, Option<ExternalIds>> {
        Box::pin(async move { Ok(self.read_external_ids_now(org)) })
    }

    fn rotate_external_id<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        now: SystemTime,
        until: SystemTime,
    ) -> StoreFuture<'a, ExternalIds> {
        Box::pin(async move { self.rotation_now(org, actor, now, RotationStep::Start { until }) })
    }

    fn complete_rotation<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        now: SystemTime,
    ) -> StoreFuture<'a, ExternalIds> {
        Box::pin(async move { self.rotation_now(org, actor, now, RotationStep::Complete) })
    }

    fn record_report<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        validated_version: u64,
        report: &'a Status,
        proof: Option<&'a ExternalIdProof>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.record_report_now(org, actor, id, validated_version, report, proof)) })
    }

    fn audit_log<'a>(
        &'a self,
        org: &'a OrgId,
        cursor: Option<&'a str>,
        limit: i32,
    ) -> StoreFuture<'a, AuditPage> {
        Box::pin(async move { self.audit_log_now(org, cursor, limit) })
    }

    fn report_history<'a>(&'a self, org: &'a OrgId, id: &'a str, limit: i32) -> StoreFuture<'a, Vec<Status>> {
        Box::pin(async move { Ok(self.report_history_now(org, id, limit)) })
    }

    fn scan_integrations<'a>(
        &'a self,
        page_size: i32,
        start: Option<ScanCursor>,
    ) -> StoreFuture<'a, ScanPage> {
        Box::pin(async move { self.scan_now(page_size, start) })
    }

    fn acquire_validation_lease<'a>(
        &'a self,
        org: &'a OrgId,
        id: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> StoreFuture<'a, LeaseOutcome> {
        Box::pin(async move { Ok(self.acquire_lease_now(org, id, now, ttl)) })
    }

    fn release_validation_lease<'a>(
        &'a self,
        org: &'a OrgId,
        lease: &'a ValidationLease,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move { Ok(self.release_lease_now(org, lease)) })
    }

    fn read_schedule_cursor(&self) -> StoreFuture<'_, Option<ScanCursor>> {
        Box::pin(async move {
            match self.items().get(&Self::schedule_cursor_key()) {
                Some(Entry::ScheduleCursor(cursor)) => Ok(cursor.clone()),
                _ => Ok(None),
            }
        })
    }

    fn write_schedule_cursor<'a>(&'a self, cursor: Option<&'a ScanCursor>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.items().insert(Self::schedule_cursor_key(), Entry::ScheduleCursor(cursor.cloned()));
            Ok(())
        })
    }
}
