//! The DynamoDB store. One table, every key partitioned by org (`pk = ORG#<org>`), so no query
//! can reach another org's items. Writes that must not be lost are conditional and, where two
//! items move together, transactional:
//!
//! | item | sk | guards |
//! |---|---|---|
//! | integration | `INT#<id>` | optimistic `version` on replace and delete |
//! | scope lock | `SCOPE#<scope key>` | one integration per scope per org, one default per org |
//! | external ID | `EXTERNAL_ID` | created once, even under concurrent first requests |

use crate::arn::RoleArn;
use crate::auth::OrgId;
use crate::clock::now_rfc3339;
use crate::integration::{parse_scope, scope_to_json, Integration, IntegrationDraft, Status};
use crate::policy::ExternalId;
use crate::region::Region;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::fmt;

type Item = HashMap<String, AttributeValue>;

pub const MAX_PAGE_SIZE: i32 = 100;
pub const DEFAULT_PAGE_SIZE: i32 = 50;

/// A DynamoDB failure, flattened to text so it can travel as an error cause.
#[derive(Debug)]
pub struct StoreCause(String);

impl fmt::Display for StoreCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreCause {}

/// What can go wrong in the store, in the store's words. `shared::error` is the one place that
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
    #[error("DynamoDB did not answer")]
    Unavailable(#[source] StoreCause),
    #[error("store failure")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// The error and its causes, for a log line.
    pub fn cause_chain(&self) -> String {
        crate::error::cause_chain(self)
    }

    fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        StoreError::Internal(cause.into())
    }
}

/// What a lost race tells the caller: another change to the same integration is in progress.
pub const IN_PROGRESS: &str = "Another change to this integration is in progress; retry in a moment.";
/// What a lost race during a delete without a version tells the caller.
pub const CHANGED_WHILE_DELETING: &str = "The integration changed while it was being deleted; retry.";

fn unavailable<E: std::error::Error + 'static>(err: E) -> StoreError {
    StoreError::Unavailable(StoreCause(DisplayErrorContext(&err).to_string()))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::internal(StoreCause(format!("stored item is malformed: {what}")))
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

/// A page of an org's integrations and the opaque cursor of the next page.
#[derive(Debug)]
pub struct Page {
    pub integrations: Vec<Integration>,
    pub next: Option<String>,
}

/// Integration ids are ULIDs; anything else cannot exist, so it is a 404 without a lookup.
pub fn valid_id(id: &str) -> bool {
    id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound { id: id.to_owned() }
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
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
            ("sk".to_owned(), s(format!("INT#{}", integration.id))),
            ("kind".to_owned(), s("integration")),
            ("id".to_owned(), s(&integration.id)),
            ("name".to_owned(), s(&integration.name)),
            ("role_arn".to_owned(), s(integration.role_arn.as_str())),
            ("region".to_owned(), s(integration.region.as_str())),
            ("scope".to_owned(), s(scope_to_json(&integration.scope).to_string())),
            ("scope_key".to_owned(), s(integration.scope.key())),
            ("versioning".to_owned(), AttributeValue::Bool(integration.versioning)),
            ("version".to_owned(), n(integration.version)),
            ("created_at".to_owned(), s(&integration.created_at)),
            ("updated_at".to_owned(), s(&integration.updated_at)),
            ("status".to_owned(), s(status)),
        ]);
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

    /// Which transaction items failed their condition (by index), or the error if it was not that.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Result<Vec<usize>, StoreError>> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_transaction_canceled_exception() => {
                let failed = match e.err() {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => c
                        .cancellation_reasons()
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(i, _)| i)
                        .collect(),
                    _ => Vec::new(),
                };
                if failed.is_empty() {
                    // Cancelled for another reason (a concurrent transaction on the same items):
                    // the caller may retry, so report it as transient.
                    return Err(Err(StoreError::Contended(IN_PROGRESS)));
                }
                Err(Ok(failed))
            }
            Err(e) => Err(Err(unavailable(e))),
        }
    }

    async fn scope_holder(
        &self,
        org: &OrgId,
        scope_key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(org))
            .key("sk", s(format!("SCOPE#{scope_key}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.map(|item| {
            (
                get_s(&item, "integration_id").unwrap_or_default().to_owned(),
                get_s(&item, "integration_name").unwrap_or_default().to_owned(),
            )
        }))
    }

    async fn scope_conflict(&self, org: &OrgId, scope_key: &str) -> StoreError {
        let holder = self.scope_holder(org, scope_key).await.ok().flatten();
        let (holder_id, holder_name) = holder.unwrap_or_default();
        StoreError::ScopeConflict { scope_key: scope_key.to_owned(), holder_id, holder_name }
    }

    pub async fn create(&self, org: &OrgId, draft: IntegrationDraft) -> Result<Integration, StoreError> {
        let now = now_rfc3339();
        let integration = Integration {
            id: ulid::Ulid::new().to_string(),
            name: draft.name,
            role_arn: draft.role_arn,
            region: draft.region,
            scope: draft.scope,
            versioning: draft.versioning,
            version: 1,
            created_at: now.clone(),
            updated_at: now,
            status: Status::unverified(),
            external_id_proof: None,
        };
        let scope_key = integration.scope.key();
        let items = vec![
            self.put(self.integration_item(org, &integration), "attribute_not_exists(pk)")?,
            self.put(self.scope_lock_item(org, &scope_key, &integration), "attribute_not_exists(pk)")?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(integration),
            Err(Ok(failed)) if failed.contains(&1) => Err(self.scope_conflict(org, &scope_key).await),
            Err(Ok(_)) => Err(StoreError::internal(StoreCause("integration id collision".into()))),
            Err(Err(e)) => Err(e),
        }
    }

    pub async fn get(&self, org: &OrgId, id: &str) -> Result<Integration, StoreError> {
        if !valid_id(id) {
            return Err(not_found(id));
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(org))
            .key("sk", s(format!("INT#{id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match out.item {
            Some(item) => decode(&item),
            None => Err(not_found(id)),
        }
    }

    /// One page of the org's integrations, oldest first.
    pub async fn list(&self, org: &OrgId, cursor: Option<&str>, limit: i32) -> Result<Page, StoreError> {
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
    }

    /// Every integration of the org, following every page.
    pub async fn list_all(&self, org: &OrgId) -> Result<Vec<Integration>, StoreError> {
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
    }

    fn stale(id: &str, current: u64, sent: u64) -> StoreError {
        StoreError::VersionMismatch { id: id.to_owned(), current, sent }
    }

    /// Replaces the integration's configuration if `expected_version` is still the stored one.
    pub async fn replace(
        &self,
        org: &OrgId,
        id: &str,
        draft: IntegrationDraft,
        expected_version: u64,
    ) -> Result<Integration, StoreError> {
        let current = self.get(org, id).await?;
        if current.version != expected_version {
            return Err(Self::stale(id, current.version, expected_version));
        }
        let draft_role = draft.role_arn.as_str().to_owned();
        let updated = Integration {
            id: current.id.clone(),
            name: draft.name,
            role_arn: draft.role_arn,
            region: draft.region,
            scope: draft.scope,
            versioning: draft.versioning,
            version: current.version + 1,
            created_at: current.created_at.clone(),
            updated_at: now_rfc3339(),
            // A new configuration has not been validated yet.
            status: Status::unverified(),
            // A proof is about one role: it stands while the role stays.
            external_id_proof: current.external_id_proof.clone().filter(|p| p.role_arn == draft_role),
        };
        let old_key = current.scope.key();
        let new_key = updated.scope.key();
        let expected = HashMap::from([(":expected".to_owned(), n(expected_version))]);
        let mut items = vec![self.put_with(
            self.integration_item(org, &updated),
            "attribute_exists(pk) AND version = :expected",
            expected,
        )?];
        if old_key != new_key {
            items.push(self.release_lock(org, &old_key, id)?);
            items.push(self.put(self.scope_lock_item(org, &new_key, &updated), "attribute_not_exists(pk)")?);
        } else if current.name != updated.name {
            // Keep the lock's name current so conflict messages name the integration correctly.
            items.push(self.put_with(
                self.scope_lock_item(org, &new_key, &updated),
                "integration_id = :id",
                HashMap::from([(":id".to_owned(), s(id))]),
            )?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(updated),
            Err(Ok(failed)) if failed.contains(&0) => match self.get(org, id).await {
                Ok(now) => Err(Self::stale(id, now.version, expected_version)),
                Err(e) => Err(e),
            },
            Err(Ok(failed)) if failed.contains(&2) => Err(self.scope_conflict(org, &new_key).await),
            Err(Ok(_)) => Err(StoreError::Contended(IN_PROGRESS)),
            Err(Err(e)) => Err(e),
        }
    }

    /// Deletes the integration (and frees its scope). With `expected_version`, only if it is current.
    pub async fn delete(
        &self,
        org: &OrgId,
        id: &str,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let current = self.get(org, id).await?;
        if let Some(expected) = expected_version {
            if current.version != expected {
                return Err(Self::stale(id, current.version, expected));
            }
        }
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", pk(org))
            .key("sk", s(format!("INT#{id}")))
            .condition_expression("attribute_exists(pk) AND version = :v")
            .expression_attribute_values(":v", n(current.version))
            .build()
            .map_err(StoreError::internal)?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.release_lock(org, &current.scope.key(), id)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(Ok(_)) => match self.get(org, id).await {
                // Changed between our read and the delete: with a version the caller must reload.
                Ok(now) if expected_version.is_some() => {
                    Err(Self::stale(id, now.version, expected_version.unwrap_or_default()))
                }
                Ok(_) => Err(StoreError::Contended(CHANGED_WHILE_DELETING)),
                Err(e) => Err(e),
            },
            Err(Err(e)) => Err(e),
        }
    }

    /// The org's external ID, created on first use. Concurrent first requests all get the one
    /// that won the conditional write.
    pub async fn external_id(&self, org: &OrgId) -> Result<ExternalId, StoreError> {
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
    }

    /// The org's external ID if one was created; never creates one (presign only reads).
    pub async fn read_external_id(&self, org: &OrgId) -> Result<Option<ExternalId>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(org))
            .key("sk", s("EXTERNAL_ID"))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match out.item {
            None => Ok(None),
            Some(item) => {
                ExternalId::parse(get_s(&item, "external_id")?).map(Some).map_err(|_| corrupt("external_id"))
            }
        }
    }
}

/// 160 random bits as 40 lowercase hex characters: unguessable, and within AWS's 2-1224
/// characters of `[\w+=,.@:/-]`.
pub fn generate_external_id() -> Result<ExternalId, StoreError> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::internal(StoreCause(format!("no randomness: {e}"))))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ExternalId::parse(&hex).map_err(StoreError::internal)
}

fn encode_cursor(sk: &str) -> String {
    sk.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    let invalid = || StoreError::InvalidCursor;
    if cursor.len() > 200 || cursor.len() % 2 != 0 {
        return Err(invalid());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let sk = String::from_utf8(bytes).map_err(|_| invalid())?;
    match sk.strip_prefix("INT#") {
        Some(id) if valid_id(id) => Ok(sk),
        _ => Err(invalid()),
    }
}

/// Rebuilds an integration from its item, re-checking every field with the domain parsers.
pub fn decode(item: &Item) -> Result<Integration, StoreError> {
    let scope_json: serde_json::Value =
        serde_json::from_str(get_s(item, "scope")?).map_err(|_| corrupt("scope"))?;
    let status: Status = serde_json::from_str(get_s(item, "status")?).map_err(|_| corrupt("status"))?;
    Ok(Integration {
        id: get_s(item, "id")?.to_owned(),
        name: get_s(item, "name")?.to_owned(),
        role_arn: RoleArn::parse(get_s(item, "role_arn")?).map_err(|_| corrupt("role_arn"))?,
        region: Region::parse(get_s(item, "region")?).map_err(|_| corrupt("region"))?,
        scope: parse_scope(&scope_json).map_err(|_| corrupt("scope"))?,
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

/// How long a validation report stays in the history before DynamoDB's TTL removes it.
pub const REPORT_RETENTION_SECS: u64 = 7 * 24 * 3600;
pub const HISTORY_LIMIT: i32 = 10;

/// One integration found by a scan, with the org it belongs to.
#[derive(Debug)]
pub struct Scanned {
    pub org: OrgId,
    pub integration: Integration,
}

impl Store {
    /// Records a validation report as the integration's status and in its history, in one
    /// transaction conditioned on the integration still existing at the version that was
    /// validated: a concurrent replace is never overwritten (the report about the old
    /// configuration is dropped) and a deleted integration is never resurrected.
    /// `Ok(false)` when the report was dropped for that reason. A conclusive probe's `proof`
    /// replaces the recorded one in the same write; `None` keeps what was recorded.
    pub async fn record_report(
        &self,
        org: &OrgId,
        id: &str,
        validated_version: u64,
        report: &Status,
        proof: Option<&crate::trust::ExternalIdProof>,
    ) -> Result<bool, StoreError> {
        let status = serde_json::to_string(report).map_err(StoreError::internal)?;
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", pk(org))
            .key("sk", s(format!("INT#{id}")))
            .condition_expression("attribute_exists(pk) AND version = :v")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.clone()))
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
        let now = crate::clock::unix_secs(std::time::SystemTime::now());
        let checked_at = report.checked_at.clone().unwrap_or_else(now_rfc3339);
        let history = HashMap::from([
            ("pk".to_owned(), pk(org)),
            ("sk".to_owned(), s(format!("REPORT#{id}#{checked_at}#{}", ulid::Ulid::new()))),
            ("kind".to_owned(), s("report")),
            ("report".to_owned(), s(status)),
            ("version".to_owned(), n(validated_version)),
            ("expires_at".to_owned(), n(now + REPORT_RETENTION_SECS)),
        ]);
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.put(history, "attribute_not_exists(pk)")?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(Ok(_)) => Ok(false),
            Err(Err(e)) => Err(e),
        }
    }

    /// The latest validation reports of an integration, newest first.
    pub async fn report_history(&self, org: &OrgId, id: &str, limit: i32) -> Result<Vec<Status>, StoreError> {
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
    }

    /// One page of every org's integrations (the scheduled validation's walk). `start` is the
    /// previous page's `next`; the walk ends when `next` is `None`, whatever the page sizes.
    pub async fn scan_integrations(
        &self,
        page_size: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Scanned>, Option<Item>), StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("kind = :kind")
            .expression_attribute_values(":kind", s("integration"))
            .limit(page_size.max(1))
            .set_exclusive_start_key(start)
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
        Ok((found, out.last_evaluated_key))
    }
}
