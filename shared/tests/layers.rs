//! The layers of `shared/src` (see `lib.rs`) hold: every file of `domain/` names no AWS, Lambda,
//! HTTP or async-runtime crate and nothing of `crate::aws` or `crate::api`; every file of `aws/`
//! names nothing of `crate::api`, so no HTTP status or response is decided below the edge.

use std::path::{Path, PathBuf};

const DOMAIN_MUST_NOT_NAME: &[&str] = &[
    "aws_sdk_",
    "aws_config",
    "aws_smithy",
    "lambda_http",
    "lambda_runtime",
    "reqwest",
    "hyper",
    "tokio",
    "http::",
    "moka",
    "crate::aws",
    "crate::api",
];

const AWS_MUST_NOT_NAME: &[&str] = &["crate::api", "lambda_http", "lambda_runtime", "StatusCode"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Every line of the layer's files (comments aside) that names something it must not.
fn offences(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&root.join(layer));
    assert!(files.len() >= 3, "{layer}: expected the layer's files, found {files:?}");
    let mut found = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for name in forbidden.iter().filter(|name| code.contains(*name)) {
                let file = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
                found.push(format!("src/{file}:{}: {name} in {:?}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_domain_names_no_aws_http_or_runtime_crate_and_nothing_of_the_layers_below() {
    let found = offences("domain", DOMAIN_MUST_NOT_NAME);
    assert!(found.is_empty(), "the domain must not reach I/O:\n{}", found.join("\n"));
}

#[test]
fn the_aws_side_decides_no_http_status() {
    let found = offences("aws", AWS_MUST_NOT_NAME);
    assert!(found.is_empty(), "the AWS side must not reach the API edge:\n{}", found.join("\n"));
}

#[test]
fn the_check_notices_a_forbidden_import() {
    let line = "use aws_sdk_s3::Client;";
    assert!(DOMAIN_MUST_NOT_NAME.iter().any(|f| line.contains(f)));
    assert!(AWS_MUST_NOT_NAME.iter().any(|f| "use crate::api::error::ApiError;".contains(f)));
}
