//! Scopes: which locators an integration serves, and which integration serves a locator.
//!
//! A scope is a locator prefix: the org default (`s3://` limited to its permitted buckets), one
//! bucket (`s3://b/`) or a key prefix in one bucket (`s3://b/p/`). The most specific scope that
//! covers a locator wins: a longer prefix beats a shorter one, any prefix beats its bucket, and a
//! bucket beats the default.

use crate::domain::bucket::BucketName;
use crate::domain::input::{quoted, InputError, InputErrorKind};
use crate::domain::locator::S3Locator;
use std::fmt;

pub const MAX_PREFIX_BYTES: usize = 1024;

/// A key prefix inside one bucket: 1 to 1,024 bytes, no control characters, no `.`/`..` segment,
/// none of IAM's `*`, `?`, `$`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// A prefix as a request sends it. Besides the rules below, it may hold none of IAM's wildcard
    /// and variable characters (`*`, `?`, `$`): the access policy puts the prefix in a
    /// `Resource` and an `s3:prefix` condition, where they would grant more than the prefix.
    pub fn parse(value: &str) -> Result<Self, InputError> {
        Self::check(value, true)
    }

    /// A prefix read back from the store. Items saved before `?` and `$` were refused stay
    /// readable (nothing stored is lost); the policy writer renders those characters as IAM
    /// literals, so even such a prefix grants no more than itself.
    pub fn stored(value: &str) -> Result<Self, InputError> {
        Self::check(value, false)
    }

    fn check(value: &str, refuse_iam_specials: bool) -> Result<Self, InputError> {
        let invalid = |why: &str| {
            InputError::new(
                InputErrorKind::InvalidPrefix,
                format!("Prefix {} is invalid: {why}.", quoted(value)),
            )
        };
        if value.is_empty() {
            return Err(invalid("it is empty; leave the prefix out to serve the whole bucket"));
        }
        if value.len() > MAX_PREFIX_BYTES {
            return Err(invalid("it is longer than 1024 bytes, the longest S3 key"));
        }
        if value.get(..5).is_some_and(|head| head.eq_ignore_ascii_case("s3://")) {
            return Err(invalid(
                "give only the key prefix inside the bucket, such as \"images/\", not a locator",
            ));
        }
        if value.contains('*') {
            return Err(invalid(
                "wildcards are not supported; a prefix already covers every key that starts with it",
            ));
        }
        if refuse_iam_specials && value.contains('?') {
            return Err(invalid(
                "IAM reads \"?\" in a policy as a wildcard for any one character, so the access policy would \
                 also grant keys outside this prefix; use the part of the prefix before the \"?\"",
            ));
        }
        if refuse_iam_specials && value.contains('$') {
            return Err(invalid(
                "IAM reads \"$\" in a policy as the start of a policy variable such as ${aws:username}, so the \
                 access policy would not mean this prefix; use the part of the prefix before the \"$\"",
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid("it contains a control character"));
        }
        if value.split('/').any(|s| s == "." || s == "..") {
            return Err(invalid("it contains a \".\" or \"..\" segment, which browsers rewrite"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPrefix({:?})", self.0)
    }
}

/// What an integration serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The org's default: serves every locator in its permitted buckets (sorted, no duplicates).
    Default { buckets: Vec<BucketName> },
    /// One bucket, or one key prefix inside it.
    Bucket { bucket: BucketName, prefix: Option<KeyPrefix> },
}

pub const MAX_DEFAULT_BUCKETS: usize = 100;

impl Scope {
    /// A default scope over these buckets; rejects an empty list, duplicates and more than 100.
    pub fn default_for(buckets: Vec<BucketName>) -> Result<Self, InputError> {
        if buckets.is_empty() {
            return Err(InputError::new(
                InputErrorKind::InvalidBucketName,
                "The default scope needs at least one permitted bucket; list the buckets the platform may read.",
            ));
        }
        if buckets.len() > MAX_DEFAULT_BUCKETS {
            return Err(InputError::new(
                InputErrorKind::InvalidBucketName,
                format!(
                    "The default scope lists {} buckets; at most {MAX_DEFAULT_BUCKETS} are allowed. \
                     Split them across bucket-scoped integrations.",
                    buckets.len()
                ),
            ));
        }
        let mut sorted = buckets;
        sorted.sort();
        if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(InputError::new(
                InputErrorKind::InvalidBucketName,
                format!("Bucket {:?} is listed twice; list each permitted bucket once.", pair[0].as_str()),
            ));
        }
        Ok(Scope::Default { buckets: sorted })
    }

    /// The buckets this scope may read; the access policy grants exactly these.
    pub fn buckets(&self) -> &[BucketName] {
        match self {
            Scope::Default { buckets } => buckets,
            Scope::Bucket { bucket, .. } => std::slice::from_ref(bucket),
        }
    }

    pub fn prefix(&self) -> Option<&KeyPrefix> {
        match self {
            Scope::Bucket { prefix, .. } => prefix.as_ref(),
            Scope::Default { .. } => None,
        }
    }

    /// The scope as a locator prefix; two integrations of one org never share it. All defaults
    /// share `s3://`, so an org has at most one default.
    pub fn key(&self) -> String {
        match self {
            Scope::Default { .. } => "s3://".to_owned(),
            Scope::Bucket { bucket, prefix } => {
                format!("s3://{}/{}", bucket, prefix.as_ref().map_or("", KeyPrefix::as_str))
            }
        }
    }

    /// How specific the scope is; higher wins. `None` when it does not cover the locator.
    pub fn specificity(&self, locator: &S3Locator) -> Option<usize> {
        match self {
            Scope::Default { buckets } => buckets.binary_search(&locator.bucket).ok().map(|_| 0),
            Scope::Bucket { bucket, prefix } => {
                if *bucket != locator.bucket {
                    return None;
                }
                match prefix {
                    None => Some(1),
                    Some(p) if locator.key.as_str().starts_with(p.as_str()) => Some(2 + p.as_str().len()),
                    Some(_) => None,
                }
            }
        }
    }
}

/// Anything that carries a scope: an integration, or a test double.
pub trait Scoped {
    fn scope(&self) -> &Scope;
    fn name(&self) -> &str;
}

/// Why no integration serves a locator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatch {
    /// No scope mentions the bucket at all, or only prefixes that do not cover the key.
    NoIntegration { message: String },
    /// The org has a default, but the bucket is not among its permitted buckets.
    BucketNotPermitted { message: String },
}

impl NoMatch {
    pub fn code(&self) -> &'static str {
        match self {
            NoMatch::NoIntegration { .. } => "NO_INTEGRATION",
            NoMatch::BucketNotPermitted { .. } => "BUCKET_NOT_PERMITTED",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            NoMatch::NoIntegration { message } | NoMatch::BucketNotPermitted { message } => message,
        }
    }
}

/// Every integration whose scope names the locator's bucket (a default that permits it, a bucket
/// or prefix scope on it), most specific first: those that cover the key by [`Scope::specificity`]
/// (the first is [`resolve`]'s pick), then prefix scopes of the bucket that do not cover the key.
/// What `POST /locators/explain` lists as candidates.
pub fn candidates<'a, T: Scoped>(integrations: &'a [T], locator: &S3Locator) -> Vec<&'a T> {
    let mut named: Vec<(Option<usize>, &T)> = integrations
        .iter()
        .filter(|i| i.scope().buckets().binary_search(&locator.bucket).is_ok())
        .map(|i| (i.scope().specificity(locator), i))
        .collect();
    // Covering scopes by rank, highest first; then the rest (None sorts below every Some).
    named.sort_by(|(a, _), (b, _)| b.cmp(a));
    named.into_iter().map(|(_, i)| i).collect()
}

/// Why `winner` serves the locator, in words: its scope, and what it beats (`runner_up`, the next
/// covering candidate, if any).
pub fn matched_by<T: Scoped>(winner: &T, runner_up: Option<&T>) -> String {
    let describe = |scope: &Scope| match scope {
        Scope::Default { .. } => "the org default".to_owned(),
        Scope::Bucket { bucket, prefix: None } => format!("bucket scope {bucket}"),
        Scope::Bucket { bucket, prefix: Some(p) } => format!("bucket scope {bucket}, prefix {}", p.as_str()),
    };
    let this = describe(winner.scope());
    // "bucket scope b, prefix p/, is ..." but "bucket scope b is ...".
    let subject = if winner.scope().prefix().is_some() { format!("{this},") } else { this };
    match (winner.scope(), runner_up) {
        (Scope::Default { .. }, _) => {
            format!("{subject} permits the bucket, and no bucket or prefix scope covers the key")
        }
        (_, Some(other)) => format!("{subject} is more specific than {}", describe(other.scope())),
        (Scope::Bucket { prefix: None, .. }, None) => format!("{subject} covers every key of the bucket"),
        (Scope::Bucket { .. }, None) => format!("{subject} covers the key"),
    }
}

/// Picks the integration with the most specific scope covering the locator.
pub fn resolve<'a, T: Scoped>(integrations: &'a [T], locator: &S3Locator) -> Result<&'a T, NoMatch> {
    let mut best: Option<(usize, &T)> = None;
    for candidate in integrations {
        if let Some(rank) = candidate.scope().specificity(locator) {
            if best.is_none_or(|(b, _)| rank > b) {
                best = Some((rank, candidate));
            }
        }
    }
    if let Some((_, winner)) = best {
        return Ok(winner);
    }
    let bucket = locator.bucket.as_str();
    let prefixes: Vec<&str> = integrations
        .iter()
        .filter(|i| i.scope().buckets().first().is_some_and(|b| b == &locator.bucket))
        .filter_map(|i| i.scope().prefix().map(KeyPrefix::as_str))
        .collect();
    if !prefixes.is_empty() {
        return Err(NoMatch::NoIntegration {
            message: format!(
                "No integration covers this key in bucket {bucket:?}: the bucket's integrations serve only \
                 keys under {prefixes:?}. Ask an org admin to widen the prefix or connect the bucket."
            ),
        });
    }
    if let Some(default) = integrations.iter().find(|i| matches!(i.scope(), Scope::Default { .. })) {
        return Err(NoMatch::BucketNotPermitted {
            message: format!(
                "Bucket {bucket:?} is not among the permitted buckets of the default integration {:?}. \
                 Ask an org admin to add it (and update the role's access policy).",
                default.name()
            ),
        });
    }
    Err(NoMatch::NoIntegration {
        message: format!(
            "No integration covers bucket {bucket:?}. Ask an org admin to connect it under Integrations."
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod explain_tests {
    use super::*;

    struct Named(&'static str, Scope);

    impl Scoped for Named {
        fn scope(&self) -> &Scope {
            &self.1
        }
        fn name(&self) -> &str {
            self.0
        }
    }

    fn bucket(name: &str, prefix: Option<&str>) -> Scope {
        Scope::Bucket {
            bucket: BucketName::parse(name).unwrap(),
            prefix: prefix.map(|p| KeyPrefix::parse(p).unwrap()),
        }
    }

    fn org() -> Vec<Named> {
        vec![
            Named("default", Scope::default_for(vec![BucketName::parse("acme-photos").unwrap()]).unwrap()),
            Named("photos", bucket("acme-photos", Some("photos/"))),
            Named("raw", bucket("acme-photos", Some("raw/"))),
            Named("whole", bucket("acme-videos", None)),
            Named("elsewhere", bucket("globex-data", None)),
        ]
    }

    fn names(list: &[&Named]) -> Vec<&'static str> {
        list.iter().map(|n| n.0).collect()
    }

    #[test]
    fn candidates_are_every_scope_on_the_bucket_most_specific_first_and_the_first_is_what_resolve_picks() {
        let org = org();
        let locator = S3Locator::parse("s3://acme-photos/photos/cat.png").unwrap();
        let listed = candidates(&org, &locator);
        assert_eq!(names(&listed), ["photos", "default", "raw"]);
        assert_eq!(resolve(&org, &locator).unwrap().0, listed[0].0);
        let other = S3Locator::parse("s3://acme-videos/a.webm").unwrap();
        assert_eq!(names(&candidates(&org, &other)), ["whole"]);
        assert!(candidates(&org, &S3Locator::parse("s3://nobody/a").unwrap()).is_empty());
    }

    #[test]
    fn the_sentence_says_which_scope_won_and_what_it_beat() {
        let org = org();
        assert_eq!(
            matched_by(&org[1], Some(&org[0])),
            "bucket scope acme-photos, prefix photos/, is more specific than the org default"
        );
        assert_eq!(matched_by(&org[3], None), "bucket scope acme-videos covers every key of the bucket");
        assert_eq!(
            matched_by(&org[0], None),
            "the org default permits the bucket, and no bucket or prefix scope covers the key"
        );
    }
}
