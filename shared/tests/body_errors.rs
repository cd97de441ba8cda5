#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What clients read when a create/replace body, an access-policy draft or a stored scope is
//! wrong: code, field and message of every rejection, recorded in `body_errors.txt` when the
//! bodies were still walked by hand, so that a change to how bodies are parsed cannot change a
//! word of what clients see. One fault per body, and pairs of faults, in both key orders.
//!
//! `BLESS=1 cargo test -p shared --test body_errors` rewrites the record; only do that for a
//! change of wording that is meant.

use serde_json::{json, Map, Value};
use shared::domain::integration::{parse_scope, AccessDraft, IntegrationDraft};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy)]
enum Parser {
    Integration,
    Access,
    Scope,
}

fn outcome(parser: Parser, body: &Value) -> String {
    let result = match parser {
        Parser::Integration => IntegrationDraft::from_json(body).map(|d| format!("{d:?}")),
        Parser::Access => AccessDraft::from_json(body).map(|d| format!("{d:?}")),
        Parser::Scope => parse_scope(body).map(|s| format!("{s:?}")),
    };
    match result {
        Ok(parsed) if parsed.len() > 240 => format!("ok {}… ({} bytes)", &parsed[..240], parsed.len()),
        Ok(parsed) => format!("ok {parsed}"),
        Err(e) => format!("{} {} {}", e.code(), e.field().unwrap_or("-"), e.message()),
    }
}

/// One change to a valid body: a key set (added at the end when new), or removed (`None`).
#[derive(Debug, Clone)]
struct Edit {
    name: String,
    /// `""` for the body itself, `"scope"` for the scope object.
    at: &'static str,
    key: String,
    value: Option<Value>,
}

fn apply(body: &mut Value, edit: &Edit) {
    let target = if edit.at.is_empty() { &mut *body } else { &mut body[edit.at] };
    let Some(map) = target.as_object_mut() else { return };
    match &edit.value {
        Some(v) => {
            map.insert(edit.key.clone(), v.clone());
        }
        None => {
            map.remove(&edit.key);
        }
    }
}

/// The same object with its keys (and its scope's) in the opposite order.
fn reversed(body: &Value) -> Value {
    match body {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter().rev() {
                let v = if k == "scope" { reversed(v) } else { v.clone() };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Values of every JSON type, and strings that break one rule or another.
fn palette() -> Vec<(&'static str, Value)> {
    vec![
        ("null", Value::Null),
        ("empty", json!("")),
        ("blank", json!(" \t ")),
        ("x", json!("x")),
        ("badname", json!("Bad_Bucket")),
        ("zero", json!(0)),
        ("one", json!(1)),
        ("minus", json!(-1)),
        ("float", json!(1.5)),
        ("true", json!(true)),
        ("emptylist", json!([])),
        ("list", json!(["bucket-a"])),
        ("emptyobj", json!({})),
        ("obj", json!({"type": "bucket"})),
    ]
}

fn set(at: &'static str, key: &str, label: &str, value: Value) -> Edit {
    Edit { name: format!("{at}.{key}={label}"), at, key: key.to_owned(), value: Some(value) }
}

fn remove(at: &'static str, key: &str) -> Edit {
    Edit { name: format!("{at}.{key} removed"), at, key: key.to_owned(), value: None }
}

fn edits_of(at: &'static str, keys: &[&str], extra: &[(&str, &str, Value)]) -> Vec<Edit> {
    let mut edits = Vec::new();
    for key in keys {
        edits.push(remove(at, key));
        for (label, value) in palette() {
            edits.push(set(at, key, label, value));
        }
    }
    for (key, label, value) in extra {
        edits.push(set(at, key, label, value.clone()));
    }
    edits
}

fn integration_edits(scope_keys: &[&str]) -> Vec<Edit> {
    let many: Vec<String> = (0..101).map(|i| format!("bucket-{i:03}")).collect();
    let hundred: Vec<String> = (0..100).map(|i| format!("bucket-{i:03}")).collect();
    let mut edits = edits_of(
        "",
        &["name", "role_arn", "region", "scope", "versioning", "version"],
        &[
            ("name", "long", json!("n".repeat(129))),
            ("name", "128", json!("n".repeat(128))),
            ("name", "newline", json!("Prod\nimages")),
            ("name", "padded", json!("  Padded  ")),
            ("name", "padded-long", json!(format!(" {} ", "n".repeat(128)))),
            ("role_arn", "user", json!("arn:aws:iam::123456789012:user/bob")),
            ("role_arn", "cn", json!("arn:aws-cn:iam::123456789012:role/r")),
            ("region", "cn", json!("cn-north-1")),
            ("region", "upper", json!("US-EAST-1")),
            ("version", "huge", serde_json::from_str("18446744073709551616").unwrap()),
            ("version", "max", json!(u64::MAX)),
            ("version", "floatint", json!(2.0)),
            ("version", "string1", json!("1")),
            ("nmae", "typo", json!("x")),
            ("Name", "case", json!("x")),
            ("", "emptykey", json!(1)),
            ("id", "other", json!("01ARZ3NDEKTSV4RRFFQ69G5FAV")),
            ("id", "null", Value::Null),
            ("created_at", "x", json!(5)),
            ("updated_at", "x", json!({})),
            ("status", "x", json!({"state": "healthy"})),
            ("history", "x", json!([1, 2])),
            ("policies", "x", json!(null)),
            ("external_id_proof", "x", json!("proof")),
        ],
    );
    edits.extend(scope_edits(scope_keys, &many, &hundred));
    edits
}

fn scope_edits(keys: &[&str], many: &[String], hundred: &[String]) -> Vec<Edit> {
    edits_of(
        "scope",
        keys,
        &[
            ("type", "everything", json!("everything")),
            ("type", "upper", json!("Default")),
            ("type", "default", json!("default")),
            ("type", "bucket", json!("bucket")),
            ("bukcet", "typo", json!("bucket-b")),
            ("regoin", "typo", json!("us-east-1")),
            ("buckets", "many", json!(many)),
            ("buckets", "hundred", json!(hundred)),
            ("buckets", "dup", json!(["bucket-a", "bucket-b", "bucket-a"])),
            ("buckets", "bad1", json!(["bucket-a", "Bad_Bucket"])),
            ("buckets", "int1", json!(["bucket-a", 7])),
            ("buckets", "null0", json!([null])),
            ("buckets", "nested", json!([["bucket-a"]])),
            ("buckets", "bad-then-int", json!(["Bad_Bucket", 7])),
            ("buckets", "directory", json!(["images--use1-az4--x-s3"])),
            ("buckets", "many-with-int", {
                let mut items: Vec<Value> = many.iter().map(|b| json!(b)).collect();
                items.push(json!(7));
                Value::Array(items)
            }),
            ("bucket", "upper", json!("Bucket-A")),
            ("bucket", "ip", json!("192.168.5.4")),
            ("bucket", "directory", json!("images--use1-az4--x-s3")),
            ("prefix", "locator", json!("s3://bucket-a/images/")),
            ("prefix", "wildcard", json!("images/*")),
            ("prefix", "dotdot", json!("a/../b")),
            ("prefix", "long", json!("p".repeat(1025))),
        ],
    )
}

fn access_edits() -> Vec<Edit> {
    let mut edits = edits_of(
        "",
        &["scope", "versioning", "region"],
        &[
            ("region", "cn", json!("cn-north-1")),
            ("region", "evil", json!("us-east-1.evil.com")),
            ("bukets", "typo", json!(["bucket-a"])),
            ("id", "readonly", json!("x")),
            ("name", "x", json!("x")),
        ],
    );
    edits.extend(scope_edits(&["type", "bucket", "prefix"], &[], &[]));
    edits
}

/// Faults that stand for each kind of rejection, combined in pairs: each pair in both key orders
/// shows which fault is reported first.
fn representative(edits: &[Edit], parser: Parser) -> Vec<Edit> {
    let labels: &[&str] = match parser {
        Parser::Integration => &[
            ".name removed",
            ".name=empty",
            ".region=true",
            ".role_arn=user",
            ".versioning=x",
            ".version=zero",
            ".nmae=typo",
            ".scope=x",
            "scope.bukcet=typo",
            "scope.prefix=one",
            "scope.bucket=upper",
            "scope.buckets=int1",
            "scope.buckets=bad1",
            "scope.prefix=x",
            "scope.buckets=x",
        ],
        Parser::Access | Parser::Scope => &[
            ".scope removed",
            ".versioning=x",
            ".region=true",
            ".region=upper",
            ".bukets=typo",
            "scope.bucket=upper",
            "scope.prefix=one",
            "scope.buckets=int1",
        ],
    };
    edits.iter().filter(|e| labels.contains(&e.name.as_str())).cloned().collect()
}

fn cases() -> Vec<(String, Parser, Value)> {
    let role = "arn:aws:iam::123456789012:role/platform-read";
    let bucket_scope = json!({"type": "bucket", "bucket": "bucket-a", "prefix": "images/"});
    let default_scope = json!({"type": "default", "buckets": ["bucket-b", "bucket-a"]});
    let integration = |scope: &Value| {
        json!({"name": "Images", "role_arn": role, "region": "us-east-1", "scope": scope,
               "versioning": false, "version": 3})
    };
    let bases = [
        (
            "integration/bucket",
            Parser::Integration,
            integration(&bucket_scope),
            integration_edits(&["type", "bucket", "prefix", "buckets"]),
        ),
        (
            "integration/default",
            Parser::Integration,
            integration(&default_scope),
            integration_edits(&["type", "buckets", "prefix", "bucket"]),
        ),
        (
            "access/bucket",
            Parser::Access,
            json!({"scope": bucket_scope, "versioning": true, "region": "eu-west-1"}),
            access_edits(),
        ),
        ("access/default", Parser::Access, json!({"scope": default_scope}), access_edits()),
    ];

    let mut out = Vec::new();
    for (label, value) in palette() {
        out.push((format!("integration body={label}"), Parser::Integration, value.clone()));
        out.push((format!("access body={label}"), Parser::Access, value.clone()));
        out.push((format!("scope={label}"), Parser::Scope, value));
    }
    out.push(("integration body=[13 nulls]".to_owned(), Parser::Integration, json!(vec![Value::Null; 13])));
    out.push(("scope=[default, [bucket-a]]".to_owned(), Parser::Scope, json!(["default", ["bucket-a"]])));
    out.push(("scope={type: 0}".to_owned(), Parser::Scope, json!({"type": 0, "buckets": ["bucket-a"]})));
    out.push(("scope={type: 1}".to_owned(), Parser::Scope, json!({"type": 1, "bucket": "bucket-a"})));
    out.push(("scope stored default".to_owned(), Parser::Scope, default_scope.clone()));
    out.push(("scope stored bucket".to_owned(), Parser::Scope, bucket_scope.clone()));

    for (base_label, parser, base, edits) in &bases {
        out.push((format!("{base_label} as is"), *parser, base.clone()));
        for edit in edits {
            let mut body = base.clone();
            apply(&mut body, edit);
            out.push((format!("{base_label} {}", edit.name), *parser, body));
        }
        let reps = representative(edits, *parser);
        for (i, first) in reps.iter().enumerate() {
            for second in &reps[i + 1..] {
                if first.at == second.at && first.key == second.key {
                    continue;
                }
                let mut body = base.clone();
                apply(&mut body, first);
                apply(&mut body, second);
                let name = format!("{base_label} {} + {}", first.name, second.name);
                out.push((format!("{name} (reversed)"), *parser, reversed(&body)));
                out.push((name, *parser, body));
            }
        }
    }
    out
}

const RECORD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/body_errors.txt");

#[test]
fn every_rejection_reads_as_it_did_when_bodies_were_walked_by_hand() {
    let mut now = String::new();
    for (name, parser, body) in cases() {
        writeln!(now, "{name}\t{}", outcome(parser, &body).replace('\n', "\\n")).unwrap();
    }
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(RECORD, &now).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(RECORD).expect("the record; BLESS=1 writes it");
    let recorded: Vec<&str> = recorded.lines().collect();
    let now: Vec<&str> = now.lines().collect();
    assert_eq!(recorded.len(), now.len(), "the cases changed; BLESS=1 rewrites the record");
    let differ: Vec<String> = recorded
        .iter()
        .zip(&now)
        .filter(|(was, is)| was != is)
        .map(|(was, is)| format!("was {was}\n is {is}"))
        .collect();
    assert!(differ.is_empty(), "{} of {} replies changed:\n{}", differ.len(), now.len(), differ.join("\n"));
}
