#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Nothing widens a policy: for any prefix a request may save (and any prefix stored before `?`
//! and `$` were refused), every `Resource` of the rendered access policy and its `s3:prefix`
//! condition match, under IAM's own wildcard rules, exactly the keys the scope covers.
//!
//! The matcher below is written from IAM's documentation: in a `Resource` ARN and a `StringLike`
//! value, `*` matches any run of characters, `?` any one character, `${*}`, `${?}` and `${$}` the
//! literal character, and any other `${...}` is a policy variable whose value depends on the
//! caller (which a scope must never contain).

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;
use shared::domain::policy::access_policy;
use shared::{BucketName, InputErrorKind, KeyPrefix, Partition, Scope};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    AnyRun,
    AnyOne,
    Literal(char),
}

/// IAM's reading of a pattern; `None` if it holds a policy variable.
fn iam_pattern(pattern: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'{') => {
                let close = chars[i..].iter().position(|&c| c == '}')? + i;
                let inner: String = chars[i + 2..close].iter().collect();
                match inner.as_str() {
                    "*" | "?" | "$" => tokens.push(Token::Literal(inner.chars().next()?)),
                    _ => return None,
                }
                i = close + 1;
            }
            '*' => {
                tokens.push(Token::AnyRun);
                i += 1;
            }
            '?' => {
                tokens.push(Token::AnyOne);
                i += 1;
            }
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    Some(tokens)
}

fn iam_matches(pattern: &[Token], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // matches[j]: the pattern so far matches text[..j].
    let mut matches = vec![false; text.len() + 1];
    matches[0] = true;
    for token in pattern {
        let mut next = vec![false; text.len() + 1];
        match token {
            Token::AnyRun => {
                let mut seen = false;
                for j in 0..=text.len() {
                    seen |= matches[j];
                    next[j] = seen;
                }
            }
            Token::AnyOne => (1..=text.len()).for_each(|j| next[j] = matches[j - 1]),
            Token::Literal(c) => (1..=text.len()).for_each(|j| next[j] = matches[j - 1] && text[j - 1] == *c),
        }
        matches = next;
    }
    matches[text.len()]
}

fn config() -> Config {
    Config { cases: 1024, failure_persistence: None, ..Config::default() }
}

/// Prefix text drawn from the characters that matter: IAM's specials, braces, slashes, dots and
/// a few ordinary and non-ASCII ones.
fn prefix_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('*'),
            Just('?'),
            Just('$'),
            Just('{'),
            Just('}'),
            Just('/'),
            Just('.'),
            Just('a'),
            Just('b'),
            Just('é'),
            Just(' '),
        ],
        1..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// The rendered policy's object `Resource`s and `s3:prefix` values.
fn patterns(scope: &Scope) -> (Vec<String>, Vec<String>) {
    let policy = serde_json::to_value(access_policy(Partition::Aws, scope, true, &[])).unwrap();
    let strings = |v: &Value| match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
        _ => vec![],
    };
    let mut objects = Vec::new();
    let mut listing = Vec::new();
    for statement in policy["Statement"].as_array().unwrap() {
        if statement["Sid"] == "ReadObjects" {
            objects.extend(strings(&statement["Resource"]));
        }
        listing.extend(strings(&statement["Condition"]["StringLike"]["s3:prefix"]));
    }
    (objects, listing)
}

fn assert_grants_exactly_the_prefix(prefix: &KeyPrefix, keys: &[String]) {
    let scope =
        Scope::Bucket { bucket: BucketName::parse("acme-photos").unwrap(), prefix: Some(prefix.clone()) };
    let (objects, listing) = patterns(&scope);
    assert_eq!((objects.len(), listing.len()), (1, 1), "{objects:?} {listing:?}");
    let object = iam_pattern(&objects[0]).unwrap_or_else(|| panic!("a policy variable in {}", objects[0]));
    let list = iam_pattern(&listing[0]).unwrap_or_else(|| panic!("a policy variable in {}", listing[0]));
    let p = prefix.as_str();
    for key in keys {
        let covered = key.starts_with(p);
        assert_eq!(
            iam_matches(&object, &format!("arn:aws:s3:::acme-photos/{key}")),
            covered,
            "Resource {} and key {key:?} (prefix {p:?})",
            objects[0]
        );
        assert_eq!(iam_matches(&list, key), covered, "s3:prefix {} and key {key:?}", listing[0]);
        assert!(!iam_matches(&object, &format!("arn:aws:s3:::acme-photos-2/{key}")), "another bucket");
    }
}

/// Keys near the prefix: itself, it with more, one character changed, one dropped or added.
fn keys_around(prefix: &str, tails: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = tails.iter().map(|t| format!("{prefix}{t}")).collect();
    let chars: Vec<char> = prefix.chars().collect();
    for i in 0..chars.len() {
        for replacement in ['x', '*', '?', '$', '/'] {
            let mut changed = chars.clone();
            changed[i] = replacement;
            keys.push(changed.iter().collect::<String>() + "tail");
        }
        keys.push(chars[..i].iter().collect());
        keys.push(chars[..i].iter().chain(chars[i + 1..].iter()).collect());
    }
    keys.push(format!("x{prefix}"));
    keys
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_saved_prefix_grants_exactly_the_keys_it_covers(text in prefix_text(), tails in proptest::collection::vec(prefix_text(), 0..4)) {
        if let Ok(prefix) = KeyPrefix::parse(&text) {
            prop_assert!(!text.contains(['*', '?', '$']), "{text:?} was accepted");
            assert_grants_exactly_the_prefix(&prefix, &keys_around(&text, &tails));
        }
    }

    #[test]
    fn a_prefix_stored_before_the_rule_grants_no_more_than_itself(text in prefix_text(), tails in proptest::collection::vec(prefix_text(), 0..4)) {
        if let Ok(prefix) = KeyPrefix::stored(&text) {
            assert_grants_exactly_the_prefix(&prefix, &keys_around(&text, &tails));
        }
    }
}

#[test]
fn wildcard_and_variable_characters_are_refused_with_the_reason() {
    for (prefix, reason) in [
        ("img?/", "wildcard for any one character"),
        ("${aws:username}/", "policy variable"),
        ("images/*", "wildcards are not supported"),
        ("a$b/", "policy variable"),
    ] {
        let error = KeyPrefix::parse(prefix).unwrap_err();
        assert_eq!(error.kind, InputErrorKind::InvalidPrefix, "{prefix}");
        assert!(error.message.contains(reason), "{prefix}: {}", error.message);
    }
}

#[test]
fn the_matcher_reads_iams_wildcards_and_escapes() {
    let p = |s: &str| iam_pattern(s).unwrap();
    assert!(iam_matches(&p("a?c*"), "abcdef") && !iam_matches(&p("a?c*"), "ac"));
    assert!(iam_matches(&p("a${?}*"), "a?x") && !iam_matches(&p("a${?}*"), "abx"));
    assert!(iam_matches(&p("${*}"), "*") && !iam_matches(&p("${*}"), "anything"));
    assert!(iam_pattern("${aws:username}/*").is_none());
}
