//! The audit trail's rules, with no I/O: who acted ([`Actor`]), what they did ([`Action`]) and
//! what changed ([`Changes`]): an integration's fields as `{field: [before, after]}`, a secret
//! only as the word `"changed"`, every value bounded so that one record stays small whatever an
//! admin saved. The store writes an [`AuditEvent`] in the same transaction as the change it
//! describes; `GET /audit` reads them back, newest first.

use crate::domain::integration::{Access, HealthState, Integration};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// The variable that sets how long records are kept, in days.
pub const RETENTION_VARIABLE: &str = "AUDIT_RETENTION_DAYS";
pub const DEFAULT_RETENTION_DAYS: u32 = 365;
/// Ten years: beyond that a record is not an audit trail but an archive, and a typo (`36500`)
/// should fail the deployment rather than keep records for a century.
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// What [`RETENTION_VARIABLE`] must hold, for the fail-fast message.
pub const RETENTION_RULE: &str = "a whole number of days from 1 to 3650";

/// How long records stay before DynamoDB's TTL removes them.
pub fn retention_secs(days: u32) -> u64 {
    u64::from(days) * 24 * 3600
}

/// The longest actor kept whole: OpenID Connect caps `sub` at 255 ASCII characters, so only a
/// token outside the standard carries more.
pub const MAX_ACTOR_BYTES: usize = 255;
/// The longest value shown in a change, serialized. A larger one (a default scope of many
/// buckets) is replaced by its size, so a record stays within a few tens of KiB: one value per
/// field, a fixed set of fields.
pub const MAX_VALUE_BYTES: usize = 2048;
/// What a secret's change shows, in place of `[before, after]`.
pub const SECRET_CHANGED: &str = "changed";
/// The field a stored S3-compatible secret access key is reported under.
pub const SECRET_FIELD: &str = "secret_access_key";

/// Who made a change, as recorded: the `actor` string and what kind of actor it names, so that
/// a user whose `sub` happens to read `system:schedule` is never taken for the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    id: String,
    kind: ActorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person or client, by the token's `sub`.
    User,
    /// A token without a usable `sub`: the change is recorded, as by [`Actor::UNKNOWN`].
    NoSubject,
    /// The platform itself: the schedule, or a write made straight through the store.
    System,
}

impl Actor {
    /// What a token without a `sub` claim (or a blank one) is recorded as.
    pub const UNKNOWN: &'static str = "unknown";
    /// The scheduled validation.
    pub const SCHEDULE: &'static str = "system:schedule";
    /// A write made straight through the store, outside any request or schedule (tools, tests).
    pub const DIRECT: &'static str = "system:direct";

    /// The caller of a request, by the token's `sub`. A `sub` over [`MAX_ACTOR_BYTES`] keeps its
    /// first 200 bytes and a digest of the whole, so two long subjects never read as one.
    pub fn user(sub: Option<&str>) -> Self {
        match sub.filter(|s| !s.trim().is_empty()) {
            None => Actor { id: Self::UNKNOWN.to_owned(), kind: ActorKind::NoSubject },
            Some(sub) if sub.len() <= MAX_ACTOR_BYTES => Actor { id: sub.to_owned(), kind: ActorKind::User },
            Some(sub) => {
                let mut cut = 200;
                while !sub.is_char_boundary(cut) {
                    cut -= 1;
                }
                Actor { id: format!("{}…#{}", &sub[..cut], short_digest(sub)), kind: ActorKind::User }
            }
        }
    }

    pub fn schedule() -> Self {
        Actor { id: Self::SCHEDULE.to_owned(), kind: ActorKind::System }
    }

    pub fn direct() -> Self {
        Actor { id: Self::DIRECT.to_owned(), kind: ActorKind::System }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn kind(&self) -> ActorKind {
        self.kind
    }
}

/// The first 16 hex digits of the text's SHA-256.
fn short_digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "integration.created")]
    Created,
    #[serde(rename = "integration.replaced")]
    Replaced,
    #[serde(rename = "integration.deleted")]
    Deleted,
    /// A validation report moved the integration to another health state.
    #[serde(rename = "integration.validation_state_changed")]
    ValidationStateChanged,
    /// `POST /policies/trust/rotate`: a new external ID, the previous one honoured for the overlap.
    /// An org-level change: its `integration_id` is empty and its `version` 0.
    #[serde(rename = "external_id.rotation_started")]
    ExternalIdRotationStarted,
    /// `POST /policies/trust/rotate/complete`: only the current external ID is honoured from now on.
    #[serde(rename = "external_id.rotation_completed")]
    ExternalIdRotationCompleted,
}

/// One field's change: `[before, after]` (`null` where the field did not exist), or for a secret
/// only that it changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Values { before: Value, after: Value },
    Secret,
}

impl Serialize for Change {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Change::Values { before, after } => (before, after).serialize(serializer),
            Change::Secret => serializer.serialize_str(SECRET_CHANGED),
        }
    }
}

impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(word) if word == SECRET_CHANGED => Ok(Change::Secret),
            Value::Array(pair) if pair.len() == 2 => {
                let mut pair = pair.into_iter();
                let before = pair.next().unwrap_or(Value::Null);
                let after = pair.next().unwrap_or(Value::Null);
                Ok(Change::Values { before, after })
            }
            _ => Err(serde::de::Error::custom("a change is [before, after] or \"changed\"")),
        }
    }
}

/// Field name → change, in field order.
pub type Changes = BTreeMap<String, Change>;

/// One record of the audit trail, as stored and as `GET /audit` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// A ULID: the record's place in the org's trail (time-ordered).
    pub id: String,
    pub at: String,
    pub actor: String,
    pub actor_type: ActorKind,
    pub action: Action,
    pub integration_id: String,
    /// The integration's version the change produced (deleted: the version deleted; a validation:
    /// the version validated).
    pub version: u64,
    pub changes: Changes,
}

/// What an integration shows in the trail, field by field: its configuration as the API shows
/// it, without what only bookkeeping changes (version, times, health, the probe's proof).
fn audited_fields(integration: &Integration) -> BTreeMap<String, Value> {
    const NOT_AUDITED: [&str; 7] =
        ["id", "version", "created_at", "updated_at", "status", "external_id_proof", "secret_set"];
    match integration.to_json() {
        Value::Object(fields) => {
            fields.into_iter().filter(|(name, _)| !NOT_AUDITED.contains(&name.as_str())).collect()
        }
        _ => BTreeMap::new(),
    }
}

/// The sealed secret, compared only as ciphertext: a new secret is sealed anew, a kept one is
/// the same bytes.
fn sealed_secret(integration: &Integration) -> Option<&[u8]> {
    match &integration.access {
        Access::S3Compatible(store) => Some(store.secret.ciphertext()),
        Access::AwsRole(_) => None,
    }
}

/// A value as the trail shows it: itself, or its size when it is over [`MAX_VALUE_BYTES`].
fn bounded(value: Value) -> Value {
    let size = serde_json::to_string(&value).map_or(usize::MAX, |text| text.len());
    if size <= MAX_VALUE_BYTES {
        value
    } else {
        Value::String(format!("({size} bytes, too large to show)"))
    }
}

/// Every field that differs between `before` and `after` (`None`: the integration did not
/// exist, or no longer does). A secret is only ever [`Change::Secret`].
pub fn changes_between(before: Option<&Integration>, after: Option<&Integration>) -> Changes {
    let (old, new) =
        (before.map(audited_fields).unwrap_or_default(), after.map(audited_fields).unwrap_or_default());
    let mut changes = Changes::new();
    for name in old.keys().chain(new.keys()) {
        let (was, is) = (old.get(name), new.get(name));
        if was != is && !changes.contains_key(name) {
            changes.insert(
                name.clone(),
                Change::Values {
                    before: bounded(was.cloned().unwrap_or(Value::Null)),
                    after: bounded(is.cloned().unwrap_or(Value::Null)),
                },
            );
        }
    }
    if before.and_then(sealed_secret) != after.and_then(sealed_secret) {
        changes.insert(SECRET_FIELD.to_owned(), Change::Secret);
    }
    changes
}

/// A validation's change: the health state before and after.
pub fn state_change(before: HealthState, after: HealthState) -> Changes {
    let as_json = |state: HealthState| Value::from(state.as_str());
    Changes::from([("state".to_owned(), Change::Values { before: as_json(before), after: as_json(after) })])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_without_a_subject_is_recorded_as_unknown_and_says_so() {
        for sub in [None, Some(""), Some("   ")] {
            let actor = Actor::user(sub);
            assert_eq!((actor.id(), actor.kind()), (Actor::UNKNOWN, ActorKind::NoSubject));
        }
    }

    #[test]
    fn a_user_whose_subject_reads_like_the_schedule_is_still_a_user() {
        let actor = Actor::user(Some(Actor::SCHEDULE));
        assert_eq!(actor.kind(), ActorKind::User);
        assert_ne!(actor, Actor::schedule());
    }

    #[test]
    fn a_subject_over_the_bound_is_cut_and_two_long_subjects_stay_apart() {
        let (a, b) = ("é".repeat(300), format!("{}x", "é".repeat(300)));
        let (cut_a, cut_b) = (Actor::user(Some(&a)), Actor::user(Some(&b)));
        assert!(cut_a.id().len() <= MAX_ACTOR_BYTES, "{}", cut_a.id().len());
        assert_ne!(cut_a.id(), cut_b.id());
    }

    #[test]
    fn a_change_reads_back_as_written_and_a_secret_is_only_the_word_changed() {
        let changes = Changes::from([
            ("name".to_owned(), Change::Values { before: "a".into(), after: "b".into() }),
            (SECRET_FIELD.to_owned(), Change::Secret),
        ]);
        let text = serde_json::to_string(&changes).unwrap();
        assert_eq!(text, r#"{"name":["a","b"],"secret_access_key":"changed"}"#);
        assert_eq!(serde_json::from_str::<Changes>(&text).unwrap(), changes);
    }

    #[test]
    fn a_value_over_the_bound_shows_its_size_instead() {
        let huge = Value::String("b".repeat(MAX_VALUE_BYTES * 4));
        assert_eq!(
            bounded(huge),
            Value::String(format!("({} bytes, too large to show)", MAX_VALUE_BYTES * 4 + 2))
        );
    }
}
