//! The domain stays free of I/O: the modules that hold the pure rules name no AWS, Lambda, HTTP or
//! async-runtime crate, and none of this crate's AWS-side or API-edge modules. The AWS side
//! (`store`, `credentials`, `validation`) and the API edge (`api`, `error`'s HTTP map, `routes`,
//! `auth`, `telemetry`) may use the domain; never the other way round. `trust` is the rule over
//! the STS seam (it calls `credentials::Assumer`), so it is not listed as pure.

const PURE_DOMAIN: &[&str] =
    &["locator", "bucket", "arn", "region", "scope", "policy", "lifetime", "input", "clock"];

const FORBIDDEN: &[&str] = &[
    "aws_sdk_",
    "aws_config",
    "aws_smithy",
    "lambda_http",
    "lambda_runtime",
    "reqwest",
    "hyper",
    "tokio",
    "http::",
    "crate::store",
    "crate::credentials",
    "crate::validation",
    "crate::api",
    "crate::telemetry",
];

#[test]
fn the_pure_domain_modules_name_no_aws_http_or_runtime_crate() {
    let mut found = Vec::new();
    for module in PURE_DOMAIN {
        let path = format!("{}/src/{module}.rs", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for forbidden in FORBIDDEN {
                if code.contains(forbidden) {
                    found.push(format!("src/{module}.rs:{}: {forbidden} in {:?}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "the domain must not reach I/O:\n{}", found.join("\n"));
}

#[test]
fn the_check_notices_a_forbidden_import() {
    let line = "use aws_sdk_s3::Client;";
    assert!(FORBIDDEN.iter().any(|f| line.contains(f)));
}
