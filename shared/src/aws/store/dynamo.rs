//! [`IntegrationStore`] on DynamoDB: one table, `pk = ORG#<org>`, the sort keys of the table in
//! [`super`]. Writes that must not be lost are conditional and, where two items move together,
//! transactional. The item format is this store's own ([`StoredScope`], `schema_version`), not
//! the API's JSON, so the API can change without rewriting stored items.

use super::{
    audit_event, audit_sk, decode_audit_cursor, decode_cursor, encode_cursor, first_version,
    generate_external_id, idempotency_sk, integration_sk, lease_millis, lease_sk, lease_time, new_lease,
    next_version, rotation_step, valid_id, AuditPage, CreateOptions, Created, Idempotency, IntegrationStore,
    LeaseOutcome, Page, RotationStep, ScanCursor, ScanPage, Scanned, StoreCause, StoreError, StoreFuture,
    ValidationLease, CHANGED_WHILE_DELETING, IDEMPOTENCY_TTL_SECS, IN_PROGRESS, KEY_FOR_ANOTHER_DRAFT,
    KEY_FOR_A_DELETED_INTEGRATION, MAX_PAGE_SIZE, REPORT_RETENTION_SECS, SCHEDULE_CURSOR_PK,
    SCHEDULE_CURSOR_SK, SCHEMA_VERSION,
};
use crate::domain::arn::{KmsKeyArn, RoleArn};
use crate::domain::audit::{changes_between, state_change, Action, Actor, AuditEvent};
use crate::domain::bucket::BucketName;
use crate::domain::clock::{now_rfc3339, rfc3339};
use crate::domain::external_id::ExternalIdProof;
use crate::domain::external_id::{ExternalId, ExternalIds, Rotation};
use crate::domain::integration::{
    Access, AwsRole, Integration, IntegrationDraft, S3Compatible, Status, KIND_AWS_ROLE, KIND_S3_COMPATIBLE,
};
use crate::domain::org::OrgId;
use crate::domain::region::Region;
use crate::domain::s3_compatible::{AccessKeyId, AddressingStyle, SealedSecret, StoreEndpoint, StoreRegion};
use crate::domain::scope::{KeyPrefix, Scope};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// How long an ended lease item stays before DynamoDB's TTL removes it: validate may not delete
/// items, and an ended lease is harmless (the next acquire overwrites it).
const ENDED_LEASE_RETENTION_SECS: u64 = 3600;

type Item = HashMap<String, AttributeValue>;

/// How many times a report is tried against a status that keeps changing under it.
const RECORD_ATTEMPTS: usize = 3;
/// How often a transaction cancelled by a concurrent one (`TransactionConflict`) is sent in all.
pub const CONFLICT_ATTEMPTS: u32 = 3;

/// The wait before sending a conflicted transaction again: 20 ms, then 40 ms, each plus up to as
/// much again at random, so that two writers that met do not meet again in step.
fn conflict_backoff(attempt: u32) -> Duration {
    let base = 20u64 << attempt.saturating_sub(1).min(4);
    let mut byte = [0u8; 1];
    let jitter = getrandom::fill(&mut byte).map(|()| base * u64::from(byte[0]) / 255).unwrap_or(0);
    Duration::from_millis(base + jitter)
}

/// The org's integration counter (attribute `n`), which holds creates to the org's limit.
const COUNTER_SK: &str = "COUNT#integrations";

fn unavailable<E: std::error::Error + 'static>(err: E) -> StoreError {
    StoreError::Unavailable(StoreCause(DisplayErrorContext(&err).to_string()))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::corrupt(what)
}

/// The external-ID item as [`ExternalIds`]: the rotation's fields are all there or all absent.
fn external_ids_of(item: &Item) -> Result<ExternalIds, StoreError> {
    let id = |name: &str| ExternalId::parse(get_s(item, name)?).map_err(|_| corrupt(name));
    let time =
        |name: &str| crate::domain::clock::parse_rfc3339(get_s(item, name)?).ok_or_else(|| corrupt(name));
    let rotation = match item.get("previous_external_id") {
        None => None,
        Some(_) => Some(Rotation {
            previous: id("previous_external_id")?,
            started_at: time("rotation_started_at")?,
            until: time("previous_until")?,
        }),
    };
    Ok(ExternalIds { current: id("external_id")?, rotation })
}

fn pk(org: &OrgId) -> AttributeValue {
    AttributeValue::S(format!("ORG#{}", org.as_str()))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).ok_or_else(|| corrupt(name))
}

fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or_else(|| corrupt(name))
}

/// The stored shape of a scope: the same JSON the first release wrote, kept as the store's own
/// type so that the API's scope shape can change without touching stored items.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum StoredScope {
    Default {
        buckets: Vec<String>,
    },
    Bucket {
        bucket: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
}

impl StoredScope {
    fn of(scope: &Scope) -> Self {
        match scope {
            Scope::Default { buckets } => {
                StoredScope::Default { buckets: buckets.iter().map(|b| b.as_str().to_owned()).collect() }
            }
            Scope::Bucket { bucket, prefix } => StoredScope::Bucket {
                bucket: bucket.as_str().to_owned(),
                prefix: prefix.as_ref().map(|p| p.as_str().to_owned()),
            },
        }
    }

    /// Re-checked with the domain parsers: a stored item is input too.
    fn into_scope(self) -> Result<Scope, StoreError> {
        let bucket = |name: &str| BucketName::parse(name).map_err(|_| corrupt("scope bucket"));
        match self {
            StoredScope::Default { buckets } => {
                let parsed = buckets.iter().map(|b| bucket(b)).collect::<Result<Vec<_>, _>>()?;
                Scope::default_for(parsed).map_err(|_| corrupt("scope"))
            }
            StoredScope::Bucket { bucket: name, prefix } => Ok(Scope::Bucket {
                bucket: bucket(&name)?,
                prefix: match prefix.as_deref() {
                    None | Some("") => None,
                    Some(p) => Some(KeyPrefix::stored(p).map_err(|_| corrupt("scope prefix"))?),
                },
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long an audit record stays before the table's TTL removes it.
    audit_retention_secs: u64,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let audit_retention_secs =
            crate::domain::audit::retention_secs(crate::domain::audit::DEFAULT_RETENTION_DAYS);
        Self { client, table: table.into(), audit_retention_secs }
    }

    /// Keeps audit records `days` days (`AUDIT_RETENTION_DAYS`) instead of the default 365.
    pub fn with_audit_retention_days(mut self, days: u32) -> Self {
        self.audit_retention_secs = crate::domain::audit::retention_secs(days);
        self
    }

    /// This store behind the seam, as the functions' state holds it.
    pub fn shared(&self) -> super::SharedStore {
        std::sync::Arc::new(self.clone())
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table if it does not exist (dev server and tests; production uses the template).
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        let exists = self.client.describe_table().table_name(&self.table).send().await;
        match exists {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk").map_err(StoreError::internal)?)
            .attribute_definitions(attr("sk").map_err(StoreError::internal)?)
            .key_schema(key("pk", KeyType::Hash).map_err(StoreError::internal)?)
            .key_schema(key("sk", KeyType::Range).map_err(StoreError::internal)?)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn integration_item(&self, org: &OrgId, integration: &Integration) -> Item {
        let status = serde_json::to_string(&integration.status).unwrap_or_else(|_| "null".into());
        let mut item = HashMap::from([
            ("pk".to_owned(), pk(org)),
            ("sk".to_owned(), s(integration_sk(&integration.id))),
            ("kind".to_owned(), s("integration")),
            ("schema_version".to_owned(), n(SCHEMA_VERSION)),
            ("id".to_owned(), s(&integration.id)),
            ("name".to_owned(), s(&integration.name)),
            (
                "scope".to_owned(),
                s(serde_json::to_string(&StoredScope::of(&integration.scope)).unwrap_or_default()),
            ),
            ("scope_key".to_owned(), s(integration.scope.key())),
            ("versioning".to_owned(), AttributeValue::Bool(integration.versioning)),
            ("version".to_owned(), n(integration.version)),
            ("created_at".to_owned(), s(&integration.created_at)),
            ("updated_at".to_owned(), s(&integration.updated_at)),
            ("status".to_owned(), s(status)),
        ]);
        access_attributes(&integration.access, &mut item);
        if let Some(proof) = &integration.external_id_proof {
            item.insert("external_id_proof".to_owned(), s(serde_json::to_string(proof).unwrap_or_default()));
        }
        item
    }

    fn scope_lock_item(&self, org: &OrgId, scope_key: &str, integration: &Integration) -> Item {
        HashMap::from([
            ("pk".to_owned(), pk(org)),
            ("sk".to_owned(), s(format!("SCOPE#{scope_key}"))),
            ("kind".to_owned(), s("scope")),
            ("integration_id".to_owned(), s(&integration.id)),
            ("integration_name".to_owned(), s(&integration.name)),
        ])
    }

    /// The audit record of a change, as one more item of the change's own transaction: it is
    /// written exactly when the change is. Its key is new (a fresh ULID), so its condition only
    /// guards against overwriting another record.
    fn audit_put(&self, org: &OrgId, event: &AuditEvent) -> Result<TransactWriteItem, StoreError> {
        let now = crate::domain::clock::unix_secs(SystemTime::now());
        let item = HashMap::from([
            ("pk".to_owned(), pk(org)),
            ("sk".to_owned(), s(audit_sk(&event.id))),
            ("kind".to_owned(), s("audit")),
            ("event".to_owned(), s(serde_json::to_string(event).map_err(StoreError::internal)?)),
            ("expires_at".to_owned(), n(now + self.audit_retention_secs)),
        ]);
        self.put(item, "attribute_not_exists(pk)")
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        self.put_with(item, condition, HashMap::new())
    }

    fn put_with(&self, item: Item, condition: &str, values: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn release_lock(&self, org: &OrgId, scope_key: &str, id: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", pk(org))
            .key("sk", s(format!("SCOPE#{scope_key}")))
            .condition_expression("integration_id = :id")
            .expression_attribute_values(":id", s(id))
            .build()
            .map_err(StoreError::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// One rotation step ([`rotation_step`] decides), written with its audit record on the
    /// condition that the IDs read are still the stored ones; read again when another step won.
    async fn rotation(
        &self,
        org: &OrgId,
        actor: &Actor,
        now: SystemTime,
        step: RotationStep,
    ) -> Result<ExternalIds, StoreError> {
        for _ in 0..RECORD_ATTEMPTS {
            let Some(item) = self.read_item(pk(org), s("EXTERNAL_ID")).await? else {
                return Err(StoreError::NoRotation);
            };
            let before = external_ids_of(&item)?;
            let (after, event) = rotation_step(&before, step, actor, now)?;
            match self.write_external_ids(org, &item, &before, &after, &event).await {
                Ok(()) => return Ok(after),
                Err(Ok(_)) => continue,
                Err(Err(e)) => return Err(e),
            }
        }
        Err(StoreError::Contended(IN_PROGRESS))
    }

    /// Replaces the org's external-ID item (read as `item`, holding `before`) with `after`, on the
    /// condition that it still holds `before`'s current ID, with the step's audit record in the
    /// same transaction.
    async fn write_external_ids(
        &self,
        org: &OrgId,
        item: &Item,
        before: &ExternalIds,
        after: &ExternalIds,
        event: &AuditEvent,
    ) -> Result<(), Result<Vec<usize>, StoreError>> {
        let mut fresh = HashMap::from([
            ("pk".to_owned(), pk(org)),
            ("sk".to_owned(), s("EXTERNAL_ID")),
            ("kind".to_owned(), s("external_id")),
            ("external_id".to_owned(), s(after.current.as_str())),
        ]);
        if let Some(created) = item.get("created_at") {
            fresh.insert("created_at".to_owned(), created.clone());
        }
        if let Some(rotation) = &after.rotation {
            fresh.insert("previous_external_id".to_owned(), s(rotation.previous.as_str()));
            fresh.insert("rotation_started_at".to_owned(), s(rfc3339(rotation.started_at)));
            fresh.insert("previous_until".to_owned(), s(rfc3339(rotation.until)));
        }
        let values = HashMap::from([(":before".to_owned(), s(before.current.as_str()))]);
        let put = self.put_with(fresh, "external_id = :before", values).map_err(Err)?;
        let audit = self.audit_put(org, event).map_err(Err)?;
        self.transact(vec![put, audit]).await
    }

    /// Writes `items` as one transaction, sending it again while only concurrent transactions
    /// cancel it (at most [`CONFLICT_ATTEMPTS`] sends); then which items failed their condition
    /// (by index), or the error if it was not that.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Result<Vec<usize>, StoreError>> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
        let mut attempt = 1;
        loop {
            let sent =
                self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let reasons = match sent {
                Ok(_) => return Ok(()),
                Err(SdkError::ServiceError(e)) => match e.into_err() {
                    E::TransactionCanceledException(c) => c.cancellation_reasons,
                    other => return Err(Err(unavailable(other))),
                },
                Err(e) => return Err(Err(unavailable(e))),
            };
            let reasons = reasons.unwrap_or_default();
            let failed: Vec<usize> = reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Err(Ok(failed));
            }
            // Cancelled only because another transaction held one of the items: nothing of this
            // one was written, so sending the same items again is safe. Concurrent creates in one
            // org meet on its counter; a short wait usually lets them through.
            let conflicted = reasons.iter().any(|r| r.code() == Some("TransactionConflict"));
            if !conflicted || attempt >= CONFLICT_ATTEMPTS {
                return Err(Err(StoreError::Contended(IN_PROGRESS)));
            }
            tokio::time::sleep(conflict_backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// One item by its key, read consistently (what was just written is seen).
    async fn read_item(&self, pk: AttributeValue, sk: AttributeValue) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// The org's integration counter: seeded from a count of its integrations the first time an
    /// org is written after the counter existed. Creates and deletes change it in their own
    /// transactions, on the condition that it exists, so none can slip past a seeding.
    async fn ensure_counter(&self, org: &OrgId) -> Result<(), StoreError> {
        let existing = self.read_item(pk(org), s(COUNTER_SK)).await?;
        if existing.is_some() {
            return Ok(());
        }
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :int)")
                .expression_attribute_values(":pk", pk(org))
                .expression_attribute_values(":int", s("INT#"))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            count += u64::try_from(out.count()).unwrap_or(0);
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        let item = HashMap::from([
            ("pk".to_owned(), pk(org)),
            ("sk".to_owned(), s(COUNTER_SK)),
            ("kind".to_owned(), s("counter")),
            ("n".to_owned(), n(count)),
        ]);
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Someone else seeded it first, from the same count.
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Adds `delta` to the org's counter, in a transaction, only while it stays within `max`.
    fn count(&self, org: &OrgId, delta: i64, max: Option<u32>) -> Result<TransactWriteItem, StoreError> {
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", pk(org))
            .key("sk", s(COUNTER_SK))
            .update_expression("ADD n :delta")
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()));
        update = match max {
            Some(max) => {
                update.condition_expression("n < :max").expression_attribute_values(":max", n(u64::from(max)))
            }
            None => update.condition_expression("attribute_exists(n)"),
        };
        Ok(TransactWriteItem::builder().update(update.build().map_err(StoreError::internal)?).build())
    }

    /// What a create whose idempotency key was already recorded answers.
    async fn replay(&self, org: &OrgId, idempotency: &Idempotency) -> Result<Created, StoreError> {
        let out = self.read_item(pk(org), s(idempotency_sk(&idempotency.key))).await?;
        let record = out.ok_or(StoreError::Contended(IN_PROGRESS))?;
        if get_s(&record, "fingerprint")? != idempotency.fingerprint {
            return Err(StoreError::IdempotencyKeyReused { reason: KEY_FOR_ANOTHER_DRAFT });
        }
        match self.get(org, get_s(&record, "integration_id")?).await {
            Ok(integration) => Ok(Created { integration, replayed: true }),
            Err(StoreError::NotFound { .. }) => {
                Err(StoreError::IdempotencyKeyReused { reason: KEY_FOR_A_DELETED_INTEGRATION })
            }
            Err(e) => Err(e),
        }
    }

    async fn scope_holder(
        &self,
        org: &OrgId,
        scope_key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let out = self.read_item(pk(org), s(format!("SCOPE#{scope_key}"))).await?;
        Ok(out.map(|item| {
            (
                get_s(&item, "integration_id").unwrap_or_default().to_owned(),
                get_s(&item, "integration_name").unwrap_or_default().to_owned(),
            )
        }))
    }

    /// When the lease that refused us ends: from the refusal itself (DynamoDB returns the item
    /// that failed the condition), else read back.
    async fn lease_holder_until(
        &self,
        org: &OrgId,
        id: &str,
        refused: Option<&Item>,
    ) -> Result<SystemTime, StoreError> {
        let read;
        let item = match refused {
            Some(item) => Some(item),
            None => {
                read = self.read_item(pk(org), s(lease_sk(id))).await?;
                read.as_ref()
            }
        };
        // Released or gone since the refusal: it ends now, and a retry gets it.
        Ok(match item {
            Some(item) => lease_time(get_n(item, "lease_until")?),
            None => SystemTime::now(),
        })
    }

    async fn scope_conflict(&self, org: &OrgId, scope_key: &str) -> StoreError {
        let holder = self.scope_holder(org, scope_key).await.ok().flatten();
        let (holder_id, holder_name) = holder.unwrap_or_default();
        StoreError::ScopeConflict { scope_key: scope_key.to_owned(), holder_id, holder_name }
    }
}

/// How the item says how the platform reaches the buckets. `access_kind` is absent on items
/// written before S3-compatible stores (they are all `aws_role`); `kind` names the item type.
/// The store's secret is kept only as the sealer's ciphertext (binary), never as text.
fn access_attributes(access: &Access, item: &mut Item) {
    item.insert("access_kind".to_owned(), s(access.kind()));
    match access {
        Access::AwsRole(role) => {
            item.insert("role_arn".to_owned(), s(role.role_arn.as_str()));
            item.insert("region".to_owned(), s(role.region.as_str()));
            if !role.kms_key_arns.is_empty() {
                let keys = role.kms_key_arns.iter().map(|k| s(k.as_str())).collect();
                item.insert("kms_key_arns".to_owned(), AttributeValue::L(keys));
            }
        }
        Access::S3Compatible(store) => {
            item.insert("endpoint".to_owned(), s(store.endpoint.as_str()));
            item.insert("addressing_style".to_owned(), s(store.addressing_style.as_str()));
            item.insert("region".to_owned(), s(store.region.as_str()));
            item.insert("access_key_id".to_owned(), s(store.access_key_id.as_str()));
            let sealed = aws_sdk_dynamodb::primitives::Blob::new(store.secret.ciphertext());
            item.insert("secret_ciphertext".to_owned(), AttributeValue::B(sealed));
        }
    }
}

fn decode_access(item: &Item) -> Result<Access, StoreError> {
    let kind = match item.get("access_kind") {
        None => KIND_AWS_ROLE,
        Some(_) => get_s(item, "access_kind")?,
    };
    match kind {
        KIND_AWS_ROLE => {
            let region = Region::parse(get_s(item, "region")?).map_err(|_| corrupt("region"))?;
            let kms_key_arns = match item.get("kms_key_arns") {
                None => Vec::new(),
                Some(list) => list
                    .as_l()
                    .map_err(|_| corrupt("kms_key_arns"))?
                    .iter()
                    .map(|key| {
                        key.as_s()
                            .ok()
                            .and_then(|k| KmsKeyArn::parse(k).ok())
                            .ok_or_else(|| corrupt("kms_key_arns"))
                    })
                    .collect::<Result<_, _>>()?,
            };
            Ok(Access::AwsRole(AwsRole {
                role_arn: RoleArn::parse(get_s(item, "role_arn")?).map_err(|_| corrupt("role_arn"))?,
                region,
                kms_key_arns,
            }))
        }
        KIND_S3_COMPATIBLE => Ok(Access::S3Compatible(S3Compatible {
            endpoint: StoreEndpoint::parse(get_s(item, "endpoint")?).map_err(|_| corrupt("endpoint"))?,
            addressing_style: AddressingStyle::parse(get_s(item, "addressing_style")?)
                .map_err(|_| corrupt("addressing_style"))?,
            region: StoreRegion::parse(get_s(item, "region")?).map_err(|_| corrupt("region"))?,
            access_key_id: AccessKeyId::parse(get_s(item, "access_key_id")?)
                .map_err(|_| corrupt("access_key_id"))?,
            secret: match item.get("secret_ciphertext") {
                Some(AttributeValue::B(blob)) if !blob.as_ref().is_empty() => {
                    SealedSecret::from_ciphertext(blob.as_ref().to_vec())
                }
                _ => return Err(corrupt("secret_ciphertext")),
            },
        })),
        other => Err(corrupt(&format!("access_kind {other:?}"))),
    }
}

/// Rebuilds an integration from its item, re-checking every field with the domain parsers.
/// Items written before `schema_version` existed are version 1, the format this release writes.
pub fn decode(item: &Item) -> Result<Integration, StoreError> {
    let schema = match item.get("schema_version") {
        None => 1,
        Some(_) => get_n(item, "schema_version")?,
    };
    if schema > SCHEMA_VERSION {
        return Err(corrupt(&format!(
            "schema_version {schema} was written by a newer release (this one reads up to {SCHEMA_VERSION})"
        )));
    }
    let scope: StoredScope = serde_json::from_str(get_s(item, "scope")?).map_err(|_| corrupt("scope"))?;
    let status: Status = serde_json::from_str(get_s(item, "status")?).map_err(|_| corrupt("status"))?;
    Ok(Integration {
        id: get_s(item, "id")?.to_owned(),
        name: get_s(item, "name")?.to_owned(),
        access: decode_access(item)?,
        scope: scope.into_scope()?,
        versioning: item.get("versioning").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        version: get_n(item, "version")?,
        created_at: get_s(item, "created_at")?.to_owned(),
        updated_at: get_s(item, "updated_at")?.to_owned(),
        status,
        external_id_proof: match item.get("external_id_proof").and_then(|v| v.as_s().ok()) {
            None => None,
            Some(json) => Some(serde_json::from_str(json).map_err(|_| corrupt("external_id_proof"))?),
        },
    })
}

impl IntegrationStore for DynamoStore {
    fn create_with<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        draft: IntegrationDraft,
        options: &'a CreateOptions,
    ) -> StoreFuture<'a, Created> {
        Box::pin(async move {
            self.ensure_counter(org).await?;
            let integration = first_version(draft);
            let scope_key = integration.scope.key();
            let mut items = vec![
                self.put(self.integration_item(org, &integration), "attribute_not_exists(pk)")?,
                self.put(self.scope_lock_item(org, &scope_key, &integration), "attribute_not_exists(pk)")?,
                self.count(org, 1, Some(options.max_integrations))?,
            ];
            if let Some(idempotency) = &options.idempotency {
                let expires =
                    crate::domain::clock::unix_secs(std::time::SystemTime::now()) + IDEMPOTENCY_TTL_SECS;
                let record = HashMap::from([
                    ("pk".to_owned(), pk(org)),
                    ("sk".to_owned(), s(idempotency_sk(&idempotency.key))),
                    ("kind".to_owned(), s("idempotency")),
                    ("integration_id".to_owned(), s(&integration.id)),
                    ("fingerprint".to_owned(), s(&idempotency.fingerprint)),
                    ("expires_at".to_owned(), n(expires)),
                ]);
                items.push(self.put(record, "attribute_not_exists(pk)")?);
            }
            // Last, so the indexes above keep naming the same conditions.
            let event =
                audit_event(actor, Action::Created, &integration, changes_between(None, Some(&integration)));
            items.push(self.audit_put(org, &event)?);
            match self.transact(items).await {
                Ok(()) => Ok(Created { integration, replayed: false }),
                Err(Ok(failed)) => match &options.idempotency {
                    Some(idempotency) if failed.contains(&3) => self.replay(org, idempotency).await,
                    _ if failed.contains(&1) => Err(self.scope_conflict(org, &scope_key).await),
                    _ if failed.contains(&2) => {
                        Err(StoreError::TooManyIntegrations { max: options.max_integrations })
                    }
                    _ => Err(StoreError::internal(StoreCause("integration id collision".into()))),
                },
                Err(Err(e)) => Err(e),
            }
        })
    }

    fn get<'a>(&'a self, org: &'a OrgId, id: &'a str) -> StoreFuture<'a, Integration> {
        Box::pin(async move {
            if !valid_id(id) {
                return Err(StoreError::not_found(id));
            }
            let out = self.read_item(pk(org), s(integration_sk(id))).await?;
            match out {
                Some(item) => decode(&item),
                None => Err(StoreError::not_found(id)),
            }
        })
    }

    fn list<'a>(&'a self, org: &'a OrgId, cursor: Option<&'a str>, limit: i32) -> StoreFuture<'a, Page> {
        Box::pin(async move {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :int)")
                .expression_attribute_values(":pk", pk(org))
                .expression_attribute_values(":int", s("INT#"))
                .limit(limit.clamp(1, MAX_PAGE_SIZE));
            if let Some(cursor) = cursor {
                let sk = decode_cursor(cursor)?;
                query = query.exclusive_start_key("pk", pk(org)).exclusive_start_key("sk", s(sk));
            }
            let out = query.send().await.map_err(unavailable)?;
            let integrations = out.items().iter().map(decode).collect::<Result<Vec<_>, _>>()?;
            let next = out
                .last_evaluated_key()
                .and_then(|key| key.get("sk"))
                .and_then(|sk| sk.as_s().ok())
                .map(|sk| encode_cursor(sk));
            Ok(Page { integrations, next })
        })
    }

    fn replace<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        draft: IntegrationDraft,
        expected_version: u64,
    ) -> StoreFuture<'a, Integration> {
        Box::pin(async move {
            let current = self.get(org, id).await?;
            if current.version != expected_version {
                return Err(StoreError::stale(id, current.version, expected_version));
            }
            let updated = next_version(&current, draft);
            let old_key = current.scope.key();
            let new_key = updated.scope.key();
            let expected = HashMap::from([(":expected".to_owned(), n(expected_version))]);
            let mut items = vec![self.put_with(
                self.integration_item(org, &updated),
                "attribute_exists(pk) AND version = :expected",
                expected,
            )?];
            // The new scope's lock, whose condition failing is a scope conflict.
            let mut new_lock = None;
            if old_key != new_key {
                items.push(self.release_lock(org, &old_key, id)?);
                new_lock = Some(items.len());
                items.push(
                    self.put(self.scope_lock_item(org, &new_key, &updated), "attribute_not_exists(pk)")?,
                );
            } else if current.name != updated.name {
                // Keep the lock's name current so conflict messages name the integration correctly.
                items.push(self.put_with(
                    self.scope_lock_item(org, &new_key, &updated),
                    "integration_id = :id",
                    HashMap::from([(":id".to_owned(), s(id))]),
                )?);
            }
            let event = audit_event(
                actor,
                Action::Replaced,
                &updated,
                changes_between(Some(&current), Some(&updated)),
            );
            items.push(self.audit_put(org, &event)?);
            match self.transact(items).await {
                Ok(()) => Ok(updated),
                Err(Ok(failed)) if failed.contains(&0) => match self.get(org, id).await {
                    Ok(now) => Err(StoreError::stale(id, now.version, expected_version)),
                    Err(e) => Err(e),
                },
                Err(Ok(failed)) if new_lock.is_some_and(|lock| failed.contains(&lock)) => {
                    Err(self.scope_conflict(org, &new_key).await)
                }
                Err(Ok(_)) => Err(StoreError::Contended(IN_PROGRESS)),
                Err(Err(e)) => Err(e),
            }
        })
    }

    fn delete<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        id: &'a str,
        expected_version: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let current = self.get(org, id).await?;
            if let Some(expected) = expected_version {
                if current.version != expected {
                    return Err(StoreError::stale(id, current.version, expected));
                }
            }
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", pk(org))
                .key("sk", s(integration_sk(id)))
                .condition_expression("attribute_exists(pk) AND version = :v")
                .expression_attribute_values(":v", n(current.version))
                .build()
                .map_err(StoreError::internal)?;
            self.ensure_counter(org).await?;
            let items = vec![
                TransactWriteItem::builder().delete(delete).build(),
                self.release_lock(org, &current.scope.key(), id)?,
                self.count(org, -1, None)?,
                self.audit_put(
                    org,
                    &audit_event(actor, Action::Deleted, &current, changes_between(Some(&current), None)),
                )?,
            ];
            match self.transact(items).await {
                Ok(()) => Ok(()),
                Err(Ok(_)) => match self.get(org, id).await {
                    // Changed between our read and the delete: with a version the caller must reload.
                    Ok(now) if expected_version.is_some() => {
                        Err(StoreError::stale(id, now.version, expected_version.unwrap_or_default()))
                    }
                    Ok(_) => Err(StoreError::Contended(CHANGED_WHILE_DELETING)),
                    Err(e) => Err(e),
                },
                Err(Err(e)) => Err(e),
            }
        })
    }

    fn external_id<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, ExternalId> {
        Box::pin(async move {
            if let Some(existing) = self.read_external_id(org).await? {
                return Ok(existing);
            }
            let fresh = generate_external_id()?;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", pk(org))
                .item("sk", s("EXTERNAL_ID"))
                .item("kind", s("external_id"))
                .item("external_id", s(fresh.as_str()))
                .item("created_at", s(now_rfc3339()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Ok(_) => Ok(fresh),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                    self.read_external_id(org).await?.ok_or_else(|| corrupt("external id vanished"))
                }
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn read_external_ids<'a>(&'a self, org: &'a OrgId) -> StoreFuture<'a, Option<ExternalIds>> {
        Box::pin(async move {
            match self.read_item(pk(org), s("EXTERNAL_ID")).await? {
                None => Ok(None),
                Some(item) => external_ids_of(&item).map(Some),
            }
        })
    }

    fn rotate_external_id<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        now: SystemTime,
        until: SystemTime,
    ) -> StoreFuture<'a, ExternalIds> {
        Box::pin(async move {
            self.external_id(org).await?;
            self.rotation(org, actor, now, RotationStep::Start { until }).await
        })
    }

    fn complete_rotation<'a>(
        &'a self,
        org: &'a OrgId,
        actor: &'a Actor,
        now: SystemTime,
    ) -> StoreFuture<'a, ExternalIds> {
        Box::pin(self.rotation(org, actor, now, RotationStep::Complete))
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
        Box::pin(async move {
            let status = serde_json::to_string(report).map_err(StoreError::internal)?;
            // Whether the report is audited depends on the state it replaces, so the write is
            // conditioned on the status read: the record is exactly as true as the change. A
            // report recorded in between (the schedule and an on-demand run) means reading again.
            for _ in 0..RECORD_ATTEMPTS {
                let Some(item) = self.read_item(pk(org), s(integration_sk(id))).await? else {
                    return Ok(false);
                };
                let current = decode(&item)?;
                if current.version != validated_version {
                    return Ok(false);
                }
                let mut update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .key("pk", pk(org))
                    .key("sk", s(integration_sk(id)))
                    .condition_expression("attribute_exists(pk) AND version = :v AND #status = :before")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(status.clone()))
                    .expression_attribute_values(":before", s(get_s(&item, "status")?))
                    .expression_attribute_values(":v", n(validated_version));
                update = match proof {
                    Some(proof) => update
                        .update_expression("SET #status = :status, external_id_proof = :proof")
                        .expression_attribute_values(
                            ":proof",
                            s(serde_json::to_string(proof).map_err(StoreError::internal)?),
                        ),
                    None => update.update_expression("SET #status = :status"),
                };
                let update = update.build().map_err(StoreError::internal)?;
                let now = crate::domain::clock::unix_secs(std::time::SystemTime::now());
                let checked_at = report.checked_at.clone().unwrap_or_else(now_rfc3339);
                let history = HashMap::from([
                    ("pk".to_owned(), pk(org)),
                    ("sk".to_owned(), s(format!("REPORT#{id}#{checked_at}#{}", ulid::Ulid::new()))),
                    ("kind".to_owned(), s("report")),
                    ("report".to_owned(), s(status.clone())),
                    ("version".to_owned(), n(validated_version)),
                    ("expires_at".to_owned(), n(now + REPORT_RETENTION_SECS)),
                ]);
                let mut items = vec![
                    TransactWriteItem::builder().update(update).build(),
                    self.put(history, "attribute_not_exists(pk)")?,
                ];
                if current.status.state != report.state {
                    let changes = state_change(current.status.state, report.state);
                    let event = audit_event(actor, Action::ValidationStateChanged, &current, changes);
                    items.push(self.audit_put(org, &event)?);
                }
                match self.transact(items).await {
                    Ok(()) => return Ok(true),
                    Err(Ok(_)) => continue,
                    Err(Err(e)) => return Err(e),
                }
            }
            Err(StoreError::Contended(IN_PROGRESS))
        })
    }

    fn audit_log<'a>(
        &'a self,
        org: &'a OrgId,
        cursor: Option<&'a str>,
        limit: i32,
    ) -> StoreFuture<'a, AuditPage> {
        Box::pin(async move {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
                .expression_attribute_values(":pk", pk(org))
                .expression_attribute_values(":audit", s("AUDIT#"))
                .scan_index_forward(false)
                .limit(limit.clamp(1, MAX_PAGE_SIZE));
            if let Some(cursor) = cursor {
                let sk = decode_audit_cursor(cursor)?;
                query = query.exclusive_start_key("pk", pk(org)).exclusive_start_key("sk", s(sk));
            }
            let out = query.send().await.map_err(unavailable)?;
            let events = out
                .items()
                .iter()
                .map(|item| serde_json::from_str(get_s(item, "event")?).map_err(|_| corrupt("audit event")))
                .collect::<Result<Vec<AuditEvent>, _>>()?;
            let next = out
                .last_evaluated_key()
                .and_then(|key| key.get("sk"))
                .and_then(|sk| sk.as_s().ok())
                .map(|sk| encode_cursor(sk));
            Ok(AuditPage { events, next })
        })
    }

    fn report_history<'a>(&'a self, org: &'a OrgId, id: &'a str, limit: i32) -> StoreFuture<'a, Vec<Status>> {
        Box::pin(async move {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", pk(org))
                .expression_attribute_values(":prefix", s(format!("REPORT#{id}#")))
                .scan_index_forward(false)
                .limit(limit)
                .send()
                .await
                .map_err(unavailable)?;
            out.items()
                .iter()
                .map(|item| serde_json::from_str(get_s(item, "report")?).map_err(|_| corrupt("report")))
                .collect()
        })
    }

    fn scan_integrations<'a>(
        &'a self,
        page_size: i32,
        start: Option<ScanCursor>,
    ) -> StoreFuture<'a, ScanPage> {
        Box::pin(async move {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("kind = :kind")
                .expression_attribute_values(":kind", s("integration"))
                .limit(page_size.max(1))
                .set_exclusive_start_key(
                    start.map(|c| HashMap::from([("pk".to_owned(), s(c.pk)), ("sk".to_owned(), s(c.sk))])),
                )
                .send()
                .await
                .map_err(unavailable)?;
            let mut found = Vec::with_capacity(out.items().len());
            for item in out.items() {
                let org = get_s(item, "pk")?
                    .strip_prefix("ORG#")
                    .and_then(|o| OrgId::parse(o).ok())
                    .ok_or_else(|| corrupt("pk"))?;
                found.push(Scanned { org, integration: decode(item)? });
            }
            let next = match out.last_evaluated_key {
                None => None,
                Some(key) => {
                    Some(ScanCursor { pk: get_s(&key, "pk")?.to_owned(), sk: get_s(&key, "sk")?.to_owned() })
                }
            };
            Ok(ScanPage { found, next })
        })
    }

    fn acquire_validation_lease<'a>(
        &'a self,
        org: &'a OrgId,
        id: &'a str,
        now: SystemTime,
        ttl: Duration,
    ) -> StoreFuture<'a, LeaseOutcome> {
        Box::pin(async move {
            let lease = new_lease(id, now, ttl);
            let until = lease_millis(lease.until);
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", pk(org))
                .item("sk", s(lease_sk(id)))
                .item("kind", s("validation_lease"))
                .item("token", s(&lease.token))
                .item("lease_until", n(until))
                .item("expires_at", n(until / 1000 + ENDED_LEASE_RETENTION_SECS))
                .condition_expression("attribute_not_exists(pk) OR lease_until <= :now")
                .expression_attribute_values(":now", n(lease_millis(now)))
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match put {
                Ok(_) => Ok(LeaseOutcome::Acquired(lease)),
                Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                    let refused = match e.err() {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item().cloned()
                        }
                        _ => None,
                    };
                    let until = self.lease_holder_until(org, id, refused.as_ref()).await?;
                    Ok(LeaseOutcome::Held { until })
                }
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn release_validation_lease<'a>(
        &'a self,
        org: &'a OrgId,
        lease: &'a ValidationLease,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            // Ended by an update, not deleted: validate holds no DeleteItem (template.yaml), and
            // the condition keeps a late release from ending a lease someone else took since.
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", pk(org))
                .key("sk", s(lease_sk(&lease.id)))
                .update_expression("SET lease_until = :ended")
                .condition_expression("#token = :token")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":ended", n(0))
                .expression_attribute_values(":token", s(&lease.token))
                .send()
                .await;
            match update {
                Ok(_) => Ok(true),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                    Ok(false)
                }
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn read_schedule_cursor(&self) -> StoreFuture<'_, Option<ScanCursor>> {
        Box::pin(async move {
            let out = self.read_item(s(SCHEDULE_CURSOR_PK), s(SCHEDULE_CURSOR_SK)).await?;
            let Some(item) = out else { return Ok(None) };
            match (item.get("cursor_pk"), item.get("cursor_sk")) {
                (None, None) => Ok(None),
                _ => ScanCursor::stored(get_s(&item, "cursor_pk")?, get_s(&item, "cursor_sk")?).map(Some),
            }
        })
    }

    fn write_schedule_cursor<'a>(&'a self, cursor: Option<&'a ScanCursor>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // A put either way: clearing rewrites the item without a cursor, since validate holds
            // no DeleteItem.
            let mut item = HashMap::from([
                ("pk".to_owned(), s(SCHEDULE_CURSOR_PK)),
                ("sk".to_owned(), s(SCHEDULE_CURSOR_SK)),
                ("kind".to_owned(), s("schedule_cursor")),
                ("updated_at".to_owned(), s(now_rfc3339())),
            ]);
            if let Some(cursor) = cursor {
                item.insert("cursor_pk".to_owned(), s(&cursor.pk));
                item.insert("cursor_sk".to_owned(), s(&cursor.sk));
            }
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }
}
