#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests: locators survive parse ∘ format, bucket names follow S3's rules exactly, and
//! `scope::resolve` picks the integration a naive string-prefix reference picks.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::Config;
use shared::domain::scope::{resolve, NoMatch, Scoped};
use shared::{BucketName, InputErrorKind, KeyPrefix, Locator, ObjectKey, S3Locator, Scope, VersionId};

fn config() -> Config {
    Config {
        cases: 512,
        // Regressions are reported in the failure message; do not write files into the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

const VERSION_MARKER: &str = "?versionId=";

// ---------------------------------------------------------------------------------------------
// A reference for S3's bucket naming rules, written from the S3 documentation.
// ---------------------------------------------------------------------------------------------

fn reference_bucket_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ip_like = {
        let parts: Vec<&str> = s.split('.').collect();
        parts.len() == 4
            && parts.iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
    };
    (3..=63).contains(&b.len())
        && b.iter().all(|&c| edge(c) || c == b'.' || c == b'-')
        && edge(b[0])
        && edge(b[b.len() - 1])
        && !s.contains("..")
        && !s.contains(".-")
        && !s.contains("-.")
        && !ip_like
        && !["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| s.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--table-s3", "--x-s3"].iter().any(|x| s.ends_with(x))
}

/// Strings near the rules' edges: reserved affixes, bad edges, IP forms, lengths around 3 and 63.
fn bucket_like_string() -> impl Strategy<Value = String> {
    let head =
        select(vec!["", "", "", "xn--", "xn-", "sthree-", "sthree", "amzn-s3-demo-", "-", ".", "A", "_"]);
    let tail = select(vec![
        "",
        "",
        "",
        "-s3alias",
        "s3alias",
        "--ol-s3",
        ".mrap",
        "mrap",
        "--table-s3",
        "--x-s3",
        "-x-s3",
        "-",
        ".",
        "Z",
    ]);
    prop_oneof![
        4 => (head, "[a-z0-9.-]{0,24}", tail).prop_map(|(h, m, t)| format!("{h}{m}{t}")),
        1 => "[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,3}\\.[0-9]{1,3}(\\.[0-9])?",
        1 => "[a-z]{0,4}",
        1 => "[a-z][a-z0-9.-]{58,64}[a-z]",
        1 => "[a-z0-9]{1,10}([.-][a-z0-9]{1,10}|--[a-z0-9]{1,5}){0,4}",
    ]
}

/// Valid bucket names, with dots and hyphens in the middle, from 3 to 63 characters.
fn valid_bucket() -> impl Strategy<Value = BucketName> {
    prop_oneof![
        6 => "[a-z0-9]{1,10}([.-][a-z0-9]{1,10}|--[a-z0-9]{1,5}){0,5}",
        1 => "[a-z0-9]{3}",
        1 => "[a-z0-9][a-z0-9-]{61}[a-z0-9]",
        1 => select(vec!["abc", "my.dotted.bucket", "1.2.3", "us-east-1.evil.com", "a--b"]).prop_map(str::to_owned),
    ]
    .prop_filter("not a valid bucket name", |s| reference_bucket_ok(s))
    .prop_map(|s| BucketName::parse(&s).unwrap_or_else(|e| panic!("valid bucket {s:?} rejected: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Keys and version IDs
// ---------------------------------------------------------------------------------------------

fn is_version_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '?' | '&' | '#' | '/' | '%')
}

fn version_chars() -> Vec<char> {
    (0x21u8..=0x7e).map(char::from).filter(|c| is_version_char(*c)).collect()
}

fn version_id() -> impl Strategy<Value = VersionId> {
    prop_oneof![
        4 => vec(select(version_chars()), 1..40),
        1 => vec(select(version_chars()), 1000..=1024),
    ]
    .prop_map(|chars| {
        let s: String = chars.into_iter().collect();
        VersionId::parse(&s).unwrap_or_else(|e| panic!("valid version {s:?} rejected: {e}"))
    })
}

fn key_token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<char>().prop_filter("control character", |c| !c.is_control()).prop_map(String::from),
        3 => "[a-zA-Z0-9]{1,8}",
        2 => select(vec![
            "/", "//", ".", "..", "...", "?", VERSION_MARKER, "%", "%2e", "%2E%2E", "#", "+", " ", "&", "=", "é", "🎉",
            "\u{200b}", "\u{feff}", "~", "\\", "s3://",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Makes any string a valid key with (almost) the same bytes: dot segments get an underscore, and
/// a trailing `?versionId=<version chars>` loses its `?` (it would read back as a version).
fn repair_key(mut key: String) -> String {
    key = key
        .split('/')
        .map(|segment| match segment {
            "." => "_",
            ".." => "_.",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/");
    while let Some(at) = key.rfind(VERSION_MARKER) {
        if !key[at + VERSION_MARKER.len()..].chars().all(is_version_char) {
            break;
        }
        key.replace_range(at..=at, "!");
    }
    key
}

/// Arbitrary unicode keys of 1 to 1,024 bytes without control characters or dot segments, some
/// of exactly the target length (1,024 included).
fn valid_key_string() -> impl Strategy<Value = String> {
    let target = prop_oneof![3 => Just(None), 2 => (1usize..=1024).prop_map(Some), 1 => Just(Some(1024))];
    (vec(key_token(), 1..48), target).prop_map(|(tokens, target)| {
        let joined = tokens.concat();
        let limit = target.unwrap_or(1024);
        let mut key = String::new();
        while key.len() < limit {
            key.push_str(&joined);
            if target.is_none() {
                break;
            }
        }
        let mut end = key.len().min(limit);
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
        while key.is_empty() || target.is_some_and(|n| key.len() < n) {
            key.push('x');
        }
        repair_key(key)
    })
}

fn valid_s3_locator() -> impl Strategy<Value = S3Locator> {
    (valid_bucket(), valid_key_string(), option::weighted(0.3, version_id())).prop_map(
        |(bucket, key, version_id)| {
            let key = ObjectKey::parse(&key).unwrap_or_else(|e| panic!("valid key {key:?} rejected: {e}"));
            S3Locator { bucket, key, version_id }
        },
    )
}

/// Strings that look a lot like locators: most parse, many do not.
fn locator_like_string() -> impl Strategy<Value = String> {
    let head = select(vec![
        "s3://",
        "s3://my-bucket/",
        "s3://a.b.c/",
        "s3://my-bucket",
        "https://",
        "https://cdn.example.com/",
        "gs://b/",
        "",
    ]);
    let tail_token = prop_oneof![
        5 => key_token(),
        1 => any::<char>().prop_map(String::from),
        1 => vec(select(version_chars()), 0..6).prop_map(|c| format!("{VERSION_MARKER}{}", c.into_iter().collect::<String>())),
    ];
    (head, vec(tail_token, 0..24)).prop_map(|(h, t)| format!("{h}{}", t.concat()))
}

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Integration {
    name: String,
    scope: Scope,
}

impl Scoped for Integration {
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Few buckets and prefixes, so that scopes overlap often. "aaa" and "aaa.b" share a string
/// prefix; "a", "a/", "a/b", "ab" nest in every way. Bucket and prefix scopes use three buckets,
/// defaults five, and locators also name a bucket no scope mentions.
const SCOPED_BUCKETS: &[&str] = &["aaa", "aaa.b", "bbb"];
const BUCKETS: &[&str] = &["a-a", "aaa", "aaa.b", "bbb", "ccc"];
const LOCATOR_BUCKETS: &[&str] = &["a-a", "aaa", "aaa.b", "bbb", "ccc", "ddd"];
const PREFIXES: &[&str] = &["a", "a/", "a/b", "a/b/", "a/b/c", "ab", "b/", "x y/", "é/ü", "//a"];
const KEY_TOKENS: &[&str] = &["a", "b", "c", "/", "x y", "é", "ü", "ab"];

fn bucket(name: &str) -> BucketName {
    BucketName::parse(name).unwrap()
}

fn scope_strategy() -> impl Strategy<Value = Scope> {
    prop_oneof![
        1 => subsequence(BUCKETS, 1..=BUCKETS.len())
            .prop_shuffle()
            .prop_map(|names| Scope::default_for(names.into_iter().map(bucket).collect()).unwrap()),
        2 => select(SCOPED_BUCKETS).prop_map(|b| Scope::Bucket { bucket: bucket(b), prefix: None }),
        6 => (select(SCOPED_BUCKETS), select(PREFIXES)).prop_map(|(b, p)| Scope::Bucket {
            bucket: bucket(b),
            prefix: Some(KeyPrefix::parse(p).unwrap()),
        }),
    ]
}

/// Integrations with unique scope keys (so at most one default), in arbitrary order.
fn integrations() -> impl Strategy<Value = Vec<Integration>> {
    vec(scope_strategy(), 0..10).prop_map(|scopes| {
        let mut seen = std::collections::HashSet::new();
        scopes
            .into_iter()
            .filter(|s| seen.insert(s.key()))
            .enumerate()
            .map(|(i, scope)| Integration { name: format!("i{i} {}", scope.key()), scope })
            .collect()
    })
}

fn scope_locator() -> impl Strategy<Value = S3Locator> {
    // Half the keys start with one of the scope prefixes, so that prefix scopes often cover them.
    let lead = prop_oneof![1 => Just(""), 2 => select(PREFIXES)];
    (
        prop_oneof![3 => select(SCOPED_BUCKETS), 1 => select(LOCATOR_BUCKETS)],
        lead,
        vec(select(KEY_TOKENS), 0..5),
        option::weighted(0.2, "[a-zA-Z0-9._-]{1,8}"),
    )
        .prop_map(|(b, lead, tokens, version)| {
            let mut key = format!("{lead}{}", tokens.concat());
            if key.is_empty() {
                key.push('k');
            }
            S3Locator {
                bucket: bucket(b),
                key: ObjectKey::parse(&key).unwrap(),
                version_id: version.map(|v| VersionId::parse(&v).unwrap()),
            }
        })
}

/// The scope as a locator prefix string, built by hand.
fn covers(scope: &Scope, locator: &str) -> bool {
    match scope {
        Scope::Default { buckets } => buckets.iter().any(|b| locator.starts_with(&format!("s3://{b}/"))),
        Scope::Bucket { bucket, prefix } => {
            let prefix = prefix.as_ref().map_or("", KeyPrefix::as_str);
            locator.starts_with(&format!("s3://{bucket}/{prefix}"))
        }
    }
}

/// (is a prefix scope, prefix length, is a bucket scope): the higher the more specific.
fn rank(scope: &Scope) -> (bool, usize, bool) {
    match scope {
        Scope::Default { .. } => (false, 0, false),
        Scope::Bucket { prefix, .. } => {
            (prefix.is_some(), prefix.as_ref().map_or(0, |p| p.as_str().len()), true)
        }
    }
}

fn reference_resolve<'a>(integrations: &'a [Integration], locator: &S3Locator) -> Option<&'a Integration> {
    let text = locator.to_string();
    let covering: Vec<&Integration> = integrations.iter().filter(|i| covers(&i.scope, &text)).collect();
    let best = covering.iter().map(|i| rank(&i.scope)).max()?;
    let winners: Vec<&Integration> = covering.into_iter().filter(|i| rank(&i.scope) == best).collect();
    assert_eq!(winners.len(), 1, "unique scope keys must give a unique winner: {winners:?}");
    Some(winners[0])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_valid_s3_locator_survives_format_then_parse(locator in valid_s3_locator()) {
        let text = locator.to_string();
        prop_assert_eq!(Locator::parse(&text), Ok(Locator::S3(locator.clone())));
        prop_assert_eq!(S3Locator::parse(&text), Ok(locator));
    }

    #[test]
    fn a_locator_that_parses_formats_back_to_the_same_string(text in locator_like_string()) {
        if let Ok(locator) = Locator::parse(&text) {
            prop_assert_eq!(locator.to_string(), text);
        }
    }

    #[test]
    fn bucket_names_are_accepted_exactly_when_s3_rules_allow_them(name in bucket_like_string()) {
        let parsed = BucketName::parse(&name);
        prop_assert_eq!(parsed.is_ok(), reference_bucket_ok(&name), "{:?} -> {:?}", name, parsed);
        match parsed {
            Ok(b) => prop_assert_eq!(b.as_str(), name.as_str()),
            Err(e) => {
                let expected = if name.ends_with("--x-s3") {
                    InputErrorKind::DirectoryBucket
                } else {
                    InputErrorKind::InvalidBucketName
                };
                prop_assert_eq!(e.kind, expected);
                prop_assert!(e.message.contains(&format!("{name:?}")), "{}", e.message);
            }
        }
    }

    #[test]
    fn resolve_picks_what_the_naive_prefix_reference_picks(
        integrations in integrations(),
        locator in scope_locator(),
    ) {
        let expected = reference_resolve(&integrations, &locator);
        match (resolve(&integrations, &locator), expected) {
            (Ok(got), Some(want)) => prop_assert_eq!(&got.name, &want.name),
            (Ok(got), None) => prop_assert!(false, "resolve picked {:?}; no scope covers {}", got.name, locator),
            (Err(e), Some(want)) => prop_assert!(false, "resolve found none ({:?}); {:?} covers {}", e, want.name, locator),
            (Err(e), None) => {
                let has_default = integrations.iter().any(|i| matches!(i.scope, Scope::Default { .. }));
                let prefix_on_bucket = integrations.iter().any(|i| {
                    matches!(&i.scope, Scope::Bucket { bucket, prefix: Some(_) } if *bucket == locator.bucket)
                });
                let code = if has_default && !prefix_on_bucket { "BUCKET_NOT_PERMITTED" } else { "NO_INTEGRATION" };
                prop_assert_eq!(e.code(), code, "{:?}", e);
                prop_assert_eq!(
                    matches!(e, NoMatch::BucketNotPermitted { .. }),
                    code == "BUCKET_NOT_PERMITTED"
                );
                let named = format!("{:?}", locator.bucket.as_str());
                prop_assert!(e.message().contains(&named), "message does not name {}: {}", named, e.message());
            }
        }
    }
}

/// An uppercase `S3://` is rejected with a hint, so whatever parses formats back unchanged.
#[test]
fn an_uppercase_s3_scheme_is_rejected_rather_than_rewritten() {
    for text in ["S3://my-bucket/k", "S3://my-bucket/a b?versionId=v1"] {
        if let Ok(locator) = Locator::parse(text) {
            assert_eq!(locator.to_string(), text);
        }
    }
}
