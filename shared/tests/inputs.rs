#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Table-driven tests of every parser that takes user input: what must be rejected (with which
//! error kind, and a message that quotes the offending value and says how to fix it), and what
//! must be accepted unchanged.

use shared::domain::policy::AppOrigin;
use shared::domain::scope::MAX_DEFAULT_BUCKETS;
use shared::{BucketName, InputError, InputErrorKind, KeyPrefix, Locator, Region, RoleArn, Scope};

use InputErrorKind::*;

/// One input that a parser must reject.
struct Reject {
    input: String,
    kind: InputErrorKind,
    /// Words the message must contain (case-insensitive): a hint about how to fix the value, or
    /// a part of the value the message must name (the bad bucket inside a locator, say).
    hints: &'static [&'static str],
}

fn r(input: impl Into<String>, kind: InputErrorKind, hints: &'static [&'static str]) -> Reject {
    Reject { input: input.into(), kind, hints }
}

/// How the offending value must appear in the message: in double quotes, escaped the way Rust's
/// `Debug` escapes strings (so a newline shows as `\n`). A long value may be shortened, but its
/// beginning must still be there (opening quote included).
fn quoted_needle(value: &str) -> String {
    if value.len() <= 80 {
        return format!("{value:?}");
    }
    let mut end = 40;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let mut needle = format!("{:?}", &value[..end]);
    needle.pop(); // the closing quote: the message goes on with the rest (or an ellipsis).
    needle
}

/// Runs every case and reports all failures at once, so one run shows the whole picture.
fn check_rejections<T: std::fmt::Debug>(
    parser: &str,
    parse: impl Fn(&str) -> Result<T, InputError>,
    cases: &[Reject],
) {
    let mut failures = Vec::new();
    for case in cases {
        let input = case.input.as_str();
        let shown = quoted_needle(input);
        match parse(input) {
            Ok(value) => failures.push(format!("{parser}({shown}) was accepted as {value:?}")),
            Err(e) => {
                if e.kind != case.kind {
                    failures.push(format!(
                        "{parser}({shown}): kind {:?}, expected {:?} (message: {})",
                        e.kind, case.kind, e.message
                    ));
                }
                if !e.message.contains(&shown) {
                    failures.push(format!(
                        "{parser}({shown}): the message does not quote the value: {}",
                        e.message
                    ));
                }
                if e.message.len() > 1000 {
                    failures.push(format!(
                        "{parser}({shown}): the message is {} bytes long; long values must be shortened",
                        e.message.len()
                    ));
                }
                let lower = e.message.to_lowercase();
                for hint in case.hints {
                    if !lower.contains(&hint.to_lowercase()) {
                        failures
                            .push(format!("{parser}({shown}): the message lacks {hint:?}: {}", e.message));
                    }
                }
                // Every kind has a stable code a client can branch on.
                assert!(!e.kind.code().is_empty());
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Bucket names
// ---------------------------------------------------------------------------------------------

fn bucket_rejections() -> Vec<Reject> {
    vec![
        // Length: 3 to 63.
        r("", InvalidBucketName, &["3 to 63"]),
        r("ab", InvalidBucketName, &["2 characters", "3 to 63"]),
        r("a".repeat(64), InvalidBucketName, &["64 characters", "3 to 63"]),
        r("a".repeat(300), InvalidBucketName, &["300 characters", "3 to 63"]),
        // Characters: lowercase letters, digits, '.' and '-'.
        r("MyBucket", InvalidBucketName, &["lowercase"]),
        r("my-Bucket", InvalidBucketName, &["lowercase"]),
        r("my_bucket", InvalidBucketName, &["'_'", "lowercase letters, digits"]),
        r("my bucket", InvalidBucketName, &["' '"]),
        r("bücket", InvalidBucketName, &["'ü'"]),
        r("bucket/key", InvalidBucketName, &["'/'"]),
        r("bucket:443", InvalidBucketName, &["':'"]),
        r("user@bucket", InvalidBucketName, &["'@'"]),
        // Begin and end with a letter or digit.
        r("-bucket", InvalidBucketName, &["begin and end"]),
        r("bucket-", InvalidBucketName, &["begin and end"]),
        r(".bucket", InvalidBucketName, &["begin and end"]),
        r("bucket.", InvalidBucketName, &["begin and end"]),
        // Periods.
        r("my..bucket", InvalidBucketName, &["adjacent periods"]),
        r("my.-bucket", InvalidBucketName, &["period", "hyphen"]),
        r("my-.bucket", InvalidBucketName, &["period", "hyphen"]),
        // IP-address form.
        r("192.168.5.4", InvalidBucketName, &["IP address"]),
        r("10.0.0.1", InvalidBucketName, &["IP address"]),
        // Reserved prefixes.
        r("xn--bucket", InvalidBucketName, &["\"xn--\"", "reserved"]),
        r("sthree-bucket", InvalidBucketName, &["\"sthree-\"", "reserved"]),
        r("sthree-configurator", InvalidBucketName, &["\"sthree-\"", "reserved"]),
        r("amzn-s3-demo-bucket", InvalidBucketName, &["\"amzn-s3-demo-\"", "reserved"]),
        // Reserved suffixes.
        r("bucket-s3alias", InvalidBucketName, &["\"-s3alias\"", "reserved"]),
        r("bucket--ol-s3", InvalidBucketName, &["\"--ol-s3\"", "reserved"]),
        r("bucket.mrap", InvalidBucketName, &["\".mrap\"", "reserved"]),
        r("bucket--table-s3", InvalidBucketName, &["\"--table-s3\"", "reserved"]),
        // Directory buckets use another auth scheme.
        r("bucket--usw2-az1--x-s3", DirectoryBucket, &["directory bucket", "general purpose"]),
        r("b--x-s3", DirectoryBucket, &["general purpose"]),
    ]
}

#[test]
fn bucket_names_that_break_an_s3_rule_are_rejected() {
    check_rejections("BucketName::parse", BucketName::parse, &bucket_rejections());
}

#[test]
fn bucket_names_that_follow_every_rule_are_accepted_unchanged() {
    let cases = [
        "abc".to_owned(),
        "a1b".to_owned(),
        "123".to_owned(),
        "a".repeat(63),
        format!("a{}z", "-".repeat(61)),
        format!("{}.{}", "a".repeat(31), "b".repeat(31)),
        "my.dotted.bucket".to_owned(),
        "1.2.3".to_owned(),
        "1.2.3.4.5".to_owned(),
        "1.2.3.a".to_owned(),
        "a--b".to_owned(),
        "xn-bucket".to_owned(),
        "my-s3alias-bucket".to_owned(),
        "bucket-x-s3".to_owned(),
        "us-east-1.evil.com".to_owned(),
    ];
    for case in &cases {
        let bucket = BucketName::parse(case).unwrap_or_else(|e| panic!("{case:?} was rejected: {e}"));
        assert_eq!(bucket.as_str(), case);
        assert_eq!(bucket.to_string(), *case);
        assert_eq!(bucket.needs_path_style(), case.contains('.'));
    }
}

// ---------------------------------------------------------------------------------------------
// Locators
// ---------------------------------------------------------------------------------------------

fn locator_rejections() -> Vec<Reject> {
    let long_key = "k".repeat(1025);
    let long_version = "v".repeat(1025);
    vec![
        // Not a locator at all.
        r("", InvalidLocator, &["s3://bucket/key"]),
        r("my-bucket/photo.jpg", InvalidLocator, &["s3://bucket/key"]),
        r("s3:/my-bucket/photo.jpg", InvalidLocator, &["s3://bucket/key"]),
        r("s3:my-bucket/photo.jpg", InvalidLocator, &["s3://bucket/key"]),
        r("://my-bucket/photo.jpg", InvalidLocator, &["s3://bucket/key"]),
        // Other schemes.
        r("gs://my-bucket/photo.jpg", UnsupportedLocator, &["\"gs\"", "only s3://"]),
        r("http://cdn.example.com/photo.jpg", UnsupportedLocator, &["\"http\"", "https://"]),
        r("ftp://files.example.com/photo.jpg", UnsupportedLocator, &["\"ftp\"", "only s3://"]),
        r("file:///etc/passwd", UnsupportedLocator, &["\"file\""]),
        // s3:// without a bucket or a key.
        r("s3://", InvalidLocator, &["s3://bucket/key"]),
        r("s3:///photo.jpg", InvalidLocator, &["3 to 63"]),
        r("s3://my-bucket", InvalidLocator, &["no object key", "s3://bucket/key"]),
        r("s3://my-bucket/", InvalidLocator, &["key is empty", "s3://bucket/key"]),
        // Key rules.
        r(format!("s3://my-bucket/{long_key}"), InvalidLocator, &["1025 bytes", "1024"]),
        r("s3://my-bucket/a\nb.jpg", InvalidLocator, &["control character"]),
        r("s3://my-bucket/a\tb.jpg", InvalidLocator, &["control character"]),
        r("s3://my-bucket/a\u{0}b.jpg", InvalidLocator, &["control character"]),
        r("s3://my-bucket/a\u{7f}.jpg", InvalidLocator, &["control character"]),
        r("s3://my-bucket/a\u{85}.jpg", InvalidLocator, &["control character"]),
        // Dot segments: browsers rewrite them.
        r("s3://my-bucket/./photo.jpg", InvalidLocator, &["browsers rewrite", "rename"]),
        r("s3://my-bucket/a/../photo.jpg", InvalidLocator, &["browsers rewrite"]),
        r("s3://my-bucket/a/./photo.jpg", InvalidLocator, &["browsers rewrite"]),
        r("s3://my-bucket/a/..", InvalidLocator, &["browsers rewrite"]),
        r("s3://my-bucket/.", InvalidLocator, &["browsers rewrite"]),
        r("s3://my-bucket/..", InvalidLocator, &["browsers rewrite"]),
        r("s3://my-bucket/a/.?versionId=v1", InvalidLocator, &["browsers rewrite"]),
        // Version IDs.
        r("s3://my-bucket/photo.jpg?versionId=", InvalidLocator, &["versionId is empty"]),
        r(format!("s3://my-bucket/photo.jpg?versionId={long_version}"), InvalidLocator, &["at most 1024"]),
        // A bad bucket inside a locator: the message names the bucket and the rule.
        r("s3://My_Bucket/photo.jpg", InvalidLocator, &["\"My_Bucket\"", "lowercase"]),
        r("s3://my_bucket/photo.jpg", InvalidLocator, &["\"my_bucket\"", "'_'"]),
        r("s3://ab/photo.jpg", InvalidLocator, &["\"ab\"", "3 to 63"]),
        r("s3://192.168.5.4/photo.jpg", InvalidLocator, &["\"192.168.5.4\"", "IP address"]),
        r("s3://xn--bucket/photo.jpg", InvalidLocator, &["\"xn--bucket\"", "reserved"]),
        r("s3://bucket--usw2-az1--x-s3/photo.jpg", InvalidLocator, &["directory bucket"]),
        // Host injection through the bucket: a region-like host must never reach a URL.
        r("s3://my-bucket.s3.us-east-1.evil.com:443/photo.jpg", InvalidLocator, &["':'"]),
        r("s3://my-bucket@us-east-1.evil.com/photo.jpg", InvalidLocator, &["'@'"]),
        r("s3://my-bucket?region=us-east-1.evil.com/photo.jpg", InvalidLocator, &["'?'"]),
        r("s3://my-bucket#us-east-1.evil.com/photo.jpg", InvalidLocator, &["'#'"]),
        // https:// URLs pass through, but need a host and no raw whitespace.
        r("https://", InvalidLocator, &["no host"]),
        r("https:///photo.jpg", InvalidLocator, &["no host"]),
        r("https://?x=1", InvalidLocator, &["no host"]),
        r("https://cdn.example.com/a b.jpg", InvalidLocator, &["percent-encode"]),
        r("https://cdn.example.com/a\r\nSet-Cookie: x", InvalidLocator, &["percent-encode"]),
        // Too long for anything.
        r(format!("https://cdn.example.com/{}", "a".repeat(8200)), InvalidLocator, &["8192"]),
    ]
}

#[test]
fn locators_that_cannot_be_presigned_are_rejected() {
    check_rejections("Locator::parse", Locator::parse, &locator_rejections());
}

/// An accepted S3 locator: the string, and the key and version it must split into.
struct Accept {
    input: String,
    key: String,
    version: Option<&'static str>,
}

fn a(input: impl Into<String>, key: impl Into<String>, version: Option<&'static str>) -> Accept {
    Accept { input: input.into(), key: key.into(), version }
}

#[test]
fn s3_locators_with_unusual_keys_are_accepted_and_round_trip() {
    let key_1024 = format!("{}.jpg", "k".repeat(1020));
    let key_1024_unicode = "é".repeat(512); // 2 bytes each
    let cases = [
        a("s3://my-bucket/photo.jpg", "photo.jpg", None),
        a("s3://abc/k", "k", None),
        a(format!("s3://{}/k", "a".repeat(63)), "k", None),
        a("s3://my.dotted.bucket/a/b.jpg", "a/b.jpg", None),
        a("s3://my-bucket/a b.jpg", "a b.jpg", None),
        a("s3://my-bucket/a+b.jpg", "a+b.jpg", None),
        a("s3://my-bucket/100%25 done%.jpg", "100%25 done%.jpg", None),
        a("s3://my-bucket/%2e%2e/x", "%2e%2e/x", None),
        a("s3://my-bucket/a#b.jpg", "a#b.jpg", None),
        a("s3://my-bucket/what?.jpg", "what?.jpg", None),
        a("s3://my-bucket/a?b=c&d=e", "a?b=c&d=e", None),
        a("s3://my-bucket/dir//file.jpg", "dir//file.jpg", None),
        a("s3://my-bucket//leading-slash", "/leading-slash", None),
        a("s3://my-bucket/trailing/", "trailing/", None),
        a("s3://my-bucket/фото/ünï 🎉.jpg", "фото/ünï 🎉.jpg", None),
        a("s3://my-bucket/.hidden/a..b/.../x.", ".hidden/a..b/.../x.", None),
        a(format!("s3://my-bucket/{key_1024}"), key_1024.clone(), None),
        a(format!("s3://my-bucket/{key_1024_unicode}"), key_1024_unicode.clone(), None),
        a(
            "s3://my-bucket/a.jpg?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            "a.jpg",
            Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"),
        ),
        a("s3://my-bucket/a?versionId=x/b.jpg", "a?versionId=x/b.jpg", None),
        a("s3://my-bucket/a?versionId=x y", "a?versionId=x y", None),
        a("s3://my-bucket/a?versionId=x/b.jpg?versionId=null", "a?versionId=x/b.jpg", Some("null")),
        a(format!("s3://my-bucket/{key_1024}?versionId=v"), key_1024.clone(), Some("v")),
    ];
    for case in &cases {
        let parsed =
            Locator::parse(&case.input).unwrap_or_else(|e| panic!("{:?} was rejected: {e}", case.input));
        let Locator::S3(l) = &parsed else { panic!("{:?} did not parse as s3://", case.input) };
        assert_eq!(l.key.as_str(), case.key, "key of {:?}", case.input);
        assert_eq!(l.version_id.as_ref().map(|v| v.as_str()), case.version, "version of {:?}", case.input);
        assert_eq!(parsed.to_string(), case.input, "round trip of {:?}", case.input);
    }
}

#[test]
fn https_urls_are_accepted_unchanged() {
    for url in [
        "https://cdn.example.com/a%20b.jpg?x=1",
        "https://cdn.example.com",
        "https://cdn.example.com:8443/a/b#frag",
        "https://my-bucket.s3.us-east-1.amazonaws.com/a.jpg?X-Amz-Signature=abc",
    ] {
        assert_eq!(Locator::parse(url), Ok(Locator::Https(url.to_owned())));
    }
}

// ---------------------------------------------------------------------------------------------
// Regions
// ---------------------------------------------------------------------------------------------

fn region_rejections() -> Vec<Reject> {
    vec![
        r("us-east-1.evil.com", InvalidRegion, &["region code"]),
        r("us-east-1/evil", InvalidRegion, &["region code"]),
        r("s3.us-east-1.amazonaws.com", InvalidRegion, &["region code"]),
        r("US-EAST-1", InvalidRegion, &["lowercase", "\"us-east-1\""]),
        r("Eu-West-1", InvalidRegion, &["lowercase", "\"eu-west-1\""]),
        r("N. Virginia", InvalidRegion, &["region code", "not a name"]),
        r("", InvalidRegion, &["region code"]),
        r("us-east-99", InvalidRegion, &["region code"]),
        r("useast1", InvalidRegion, &["region code"]),
        r("us-east-1a", InvalidRegion, &["region code"]),
        r("aws-global", InvalidRegion, &["region code"]),
    ]
}

#[test]
fn regions_not_on_the_list_are_rejected() {
    check_rejections("Region::parse", Region::parse, &region_rejections());
}

// ---------------------------------------------------------------------------------------------
// Role ARNs
// ---------------------------------------------------------------------------------------------

const ARN_HINT: &str = "arn:aws:iam::123456789012:role/";

fn arn_rejections() -> Vec<Reject> {
    let long_name = "n".repeat(65);
    vec![
        r("", InvalidRoleArn, &["six", ARN_HINT]),
        r("platform-read", InvalidRoleArn, &["six", ARN_HINT]),
        r("aws:iam::123456789012:role/r", InvalidRoleArn, &["six"]),
        r("ARN:aws:iam::123456789012:role/r", InvalidRoleArn, &["\"arn:\""]),
        r("arn:aws:s3:::my-bucket", InvalidRoleArn, &["\"s3\"", "\"iam\""]),
        r("arn:aws:sts::123456789012:assumed-role/r/session", InvalidRoleArn, &["\"sts\"", "\"iam\""]),
        r("arn:aws:iam::123456789012:user/alice", InvalidRoleArn, &["\"user/alice\"", "not a role"]),
        r("arn:aws:iam::123456789012:policy/p", InvalidRoleArn, &["not a role"]),
        r("arn:aws:iam::123456789012:role", InvalidRoleArn, &["not a role"]),
        r("arn:aws:iam::12345678901:role/r", InvalidRoleArn, &["\"12345678901\"", "12 digits"]),
        r("arn:aws:iam::1234567890123:role/r", InvalidRoleArn, &["12 digits"]),
        r("arn:aws:iam::12345678901a:role/r", InvalidRoleArn, &["\"12345678901a\"", "12 digits"]),
        r("arn:aws:iam:::role/r", InvalidRoleArn, &["12 digits"]),
        r("arn:aws-foo:iam::123456789012:role/r", InvalidRoleArn, &["\"aws-foo\"", "aws-cn"]),
        r("arn:AWS:iam::123456789012:role/r", InvalidRoleArn, &["partition"]),
        r("arn::iam::123456789012:role/r", InvalidRoleArn, &["partition"]),
        r("arn:aws:iam::123456789012:role/", InvalidRoleArn, &["missing"]),
        r("arn:aws:iam::123456789012:role/team/", InvalidRoleArn, &["missing"]),
        r(format!("arn:aws:iam::123456789012:role/{long_name}"), InvalidRoleArn, &["64"]),
        r(format!("arn:aws:iam::123456789012:role/team/{long_name}"), InvalidRoleArn, &["64"]),
        r("arn:aws:iam::123456789012:role/my role", InvalidRoleArn, &["' '", "only letters"]),
        r("arn:aws:iam::123456789012:role/a*b", InvalidRoleArn, &["'*'"]),
        r("arn:aws:iam::123456789012:role/rôle", InvalidRoleArn, &["'ô'"]),
        r("arn:aws:iam::123456789012:role/r:x", InvalidRoleArn, &["':'"]),
        r("arn:aws:iam::123456789012:role/a//b", InvalidRoleArn, &["empty segment"]),
        r("arn:aws:iam::123456789012:role/tëam/r", InvalidRoleArn, &["path"]),
        r(format!("arn:aws:iam::123456789012:role/{}/r", "p".repeat(520)), InvalidRoleArn, &["512"]),
        r("arn:aws:iam:us-east-1:123456789012:role/r", InvalidRoleArn, &["empty region", "\"iam::\""]),
        r("arn:aws:iam:*:123456789012:role/r", InvalidRoleArn, &["empty region"]),
    ]
}

#[test]
fn strings_that_are_not_role_arns_are_rejected() {
    check_rejections("RoleArn::parse", RoleArn::parse, &arn_rejections());
}

#[test]
fn parse_for_region_rejects_what_parse_rejects() {
    let region = Region::parse("us-east-1").unwrap();
    check_rejections(
        "RoleArn::parse_for_region",
        |v| RoleArn::parse_for_region(v, region),
        &arn_rejections(),
    );
}

#[test]
fn a_role_from_another_partition_than_the_region_is_rejected() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("arn:aws:iam::123456789012:role/r", "cn-north-1", &["\"aws\"", "\"aws-cn\"", "\"cn-north-1\""]),
        ("arn:aws:iam::123456789012:role/r", "cn-northwest-1", &["\"aws-cn\""]),
        ("arn:aws:iam::123456789012:role/r", "us-gov-west-1", &["\"aws-us-gov\""]),
        ("arn:aws-cn:iam::123456789012:role/r", "us-east-1", &["\"aws-cn\"", "\"aws\"", "\"us-east-1\""]),
        ("arn:aws-cn:iam::123456789012:role/r", "us-gov-east-1", &["\"aws-us-gov\""]),
        ("arn:aws-us-gov:iam::123456789012:role/r", "eu-west-1", &["\"aws-us-gov\"", "\"eu-west-1\""]),
        ("arn:aws-us-gov:iam::123456789012:role/r", "cn-north-1", &["\"aws-cn\""]),
    ];
    let mut failures = Vec::new();
    for (arn, region, hints) in cases {
        let region = Region::parse(region).unwrap();
        match RoleArn::parse_for_region(arn, region) {
            Ok(parsed) => failures.push(format!("{arn:?} in {region:?} was accepted as {parsed:?}")),
            Err(e) => {
                if e.kind != PartitionMismatch {
                    failures.push(format!("{arn:?} in {region:?}: kind {:?}", e.kind));
                }
                let must: Vec<String> = [format!("{arn:?}"), "same partition".to_owned()]
                    .into_iter()
                    .chain(hints.iter().map(|h| (*h).to_owned()))
                    .collect();
                for needle in must {
                    if !e.message.contains(&needle) {
                        failures
                            .push(format!("{arn:?} in {region:?}: message lacks {needle:?}: {}", e.message));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn role_arns_with_paths_in_every_partition_are_accepted() {
    let max_name = format!("A{}z", "b".repeat(62));
    let cases = [
        ("arn:aws:iam::123456789012:role/platform-read", "aws", "us-east-1", "platform-read"),
        ("arn:aws:iam::123456789012:role/service-role/my-role", "aws", "eu-west-1", "my-role"),
        ("arn:aws-cn:iam::210987654321:role/team/data/reader", "aws-cn", "cn-north-1", "reader"),
        ("arn:aws-cn:iam::210987654321:role/reader", "aws-cn", "cn-northwest-1", "reader"),
        ("arn:aws-us-gov:iam::000000000000:role/a/b/c/Reader_1", "aws-us-gov", "us-gov-west-1", "Reader_1"),
        ("arn:aws-us-gov:iam::123456789012:role/x", "aws-us-gov", "us-gov-east-1", "x"),
        ("arn:aws:iam::123456789012:role/a_b+c=d,e.f@g-h", "aws", "us-west-2", "a_b+c=d,e.f@g-h"),
        ("arn:aws:iam::123456789012:role/pa.th_1-@+=,/n", "aws", "us-west-2", "n"),
    ];
    for (arn, partition, region, name) in cases {
        let parsed = RoleArn::parse(arn).unwrap_or_else(|e| panic!("{arn:?} was rejected: {e}"));
        assert_eq!(parsed.as_str(), arn);
        assert_eq!(parsed.partition().as_str(), partition, "{arn}");
        assert_eq!(parsed.account_id().len(), 12, "{arn}");
        assert!(arn.contains(&format!(":{}:role/", parsed.account_id())), "{arn}");
        assert_eq!(parsed.role_name(), name, "{arn}");
        let region = Region::parse(region).unwrap();
        assert_eq!(RoleArn::parse_for_region(arn, region), Ok(parsed));
    }
    let arn = format!("arn:aws:iam::123456789012:role/{max_name}");
    assert_eq!(RoleArn::parse(&arn).map(|a| a.role_name().to_owned()), Ok(max_name));
}

/// The code means to reject an empty path segment ("a//b" is rejected), but the path "/" that
/// follows "role/" stands for the IAM path "//" and slips through.
#[test]
fn a_role_path_with_an_empty_first_segment_is_rejected() {
    check_rejections(
        "RoleArn::parse",
        RoleArn::parse,
        &[
            r("arn:aws:iam::123456789012:role//reader", InvalidRoleArn, &["empty segment"]),
            r("arn:aws:iam::123456789012:role//team/reader", InvalidRoleArn, &["empty segment"]),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Key prefixes
// ---------------------------------------------------------------------------------------------

fn prefix_rejections() -> Vec<Reject> {
    vec![
        r("", InvalidPrefix, &["whole bucket"]),
        r("p".repeat(1025), InvalidPrefix, &["1024"]),
        r("s3://my-bucket/images/", InvalidPrefix, &["not a locator", "\"images/\""]),
        r("images/*", InvalidPrefix, &["wildcards"]),
        r("*", InvalidPrefix, &["wildcards"]),
        r("images/\n", InvalidPrefix, &["control character"]),
        r("images\u{0}/", InvalidPrefix, &["control character"]),
        r("./images/", InvalidPrefix, &["\"..\"", "browsers rewrite"]),
        r("images/../other/", InvalidPrefix, &["browsers rewrite"]),
        r("images/./", InvalidPrefix, &["browsers rewrite"]),
        r("..", InvalidPrefix, &["browsers rewrite"]),
    ]
}

#[test]
fn key_prefixes_that_cannot_scope_an_integration_are_rejected() {
    check_rejections("KeyPrefix::parse", KeyPrefix::parse, &prefix_rejections());
}

#[test]
fn key_prefixes_with_unusual_characters_are_accepted_unchanged() {
    for prefix in [
        "images/".to_owned(),
        "i".to_owned(),
        "a b/+%20#&=/".to_owned(),
        "фото/2024 🎉/".to_owned(),
        "dir//sub/".to_owned(),
        ".hidden/".to_owned(),
        "p".repeat(1024),
    ] {
        let parsed = KeyPrefix::parse(&prefix).unwrap_or_else(|e| panic!("{prefix:?} was rejected: {e}"));
        assert_eq!(parsed.as_str(), prefix);
    }
}

// ---------------------------------------------------------------------------------------------
// Default scope bucket lists
// ---------------------------------------------------------------------------------------------

fn buckets(names: &[&str]) -> Vec<BucketName> {
    names.iter().map(|n| BucketName::parse(n).unwrap()).collect()
}

fn numbered_buckets(n: usize) -> Vec<BucketName> {
    (0..n).map(|i| BucketName::parse(&format!("bucket-{i:03}")).unwrap()).collect()
}

#[test]
fn default_scopes_with_no_duplicate_or_too_many_buckets_are_rejected() {
    let cases: Vec<(&str, Vec<BucketName>, &[&str])> = vec![
        ("empty", vec![], &["at least one"]),
        ("duplicate", buckets(&["bucket-a", "bucket-b", "bucket-a"]), &["\"bucket-a\"", "twice", "once"]),
        ("duplicate pair", buckets(&["z.z.z", "z.z.z"]), &["\"z.z.z\"", "once"]),
        ("101 buckets", numbered_buckets(MAX_DEFAULT_BUCKETS + 1), &["101", "at most 100"]),
        ("500 buckets", numbered_buckets(500), &["500", "at most 100"]),
    ];
    let mut failures = Vec::new();
    for (label, list, hints) in cases {
        match Scope::default_for(list) {
            Ok(scope) => failures.push(format!("{label}: accepted as {scope:?}")),
            Err(e) => {
                if e.kind != InvalidBucketName {
                    failures.push(format!("{label}: kind {:?}", e.kind));
                }
                for hint in hints {
                    if !e.message.to_lowercase().contains(&hint.to_lowercase()) {
                        failures.push(format!("{label}: message lacks {hint:?}: {}", e.message));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn default_scopes_are_sorted_and_accept_up_to_100_buckets() {
    let scope = Scope::default_for(buckets(&["c-bucket", "a-bucket", "b.bucket"])).unwrap();
    let names: Vec<&str> = scope.buckets().iter().map(BucketName::as_str).collect();
    assert_eq!(names, ["a-bucket", "b.bucket", "c-bucket"]);
    assert_eq!(scope.key(), "s3://");
    assert_eq!(Scope::default_for(numbered_buckets(MAX_DEFAULT_BUCKETS)).unwrap().buckets().len(), 100);
    assert_eq!(Scope::default_for(numbered_buckets(1)).unwrap().buckets().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// App origins
// ---------------------------------------------------------------------------------------------

fn origin_rejections() -> Vec<Reject> {
    vec![
        r("", InvalidOrigin, &["https://host"]),
        r("app.example.com", InvalidOrigin, &["https://host"]),
        r("http://app.example.com", InvalidOrigin, &["use https", "localhost"]),
        r("http://localhost.evil.com", InvalidOrigin, &["use https"]),
        r("ftp://app.example.com", InvalidOrigin, &["https"]),
        r("HTTPS://app.example.com", InvalidOrigin, &["https"]),
        r("https://App.Example.com", InvalidOrigin, &["lowercase"]),
        r("https://app.example.com/path", InvalidOrigin, &["no path"]),
        r("https://app.example.com/path?x=1", InvalidOrigin, &["no path"]),
        r("https://app.example.com:abc", InvalidOrigin, &["port"]),
        r("https://app.example.com:", InvalidOrigin, &["port"]),
        r("https://app.example.com:123456", InvalidOrigin, &["port"]),
        r("https://", InvalidOrigin, &["host"]),
        r("https://*.example.com", InvalidOrigin, &["host"]),
        r("https://user@app.example.com", InvalidOrigin, &["host"]),
        r("*", InvalidOrigin, &["https://host"]),
    ]
}

#[test]
fn origins_that_a_browser_never_sends_are_rejected() {
    check_rejections("AppOrigin::parse", AppOrigin::parse, &origin_rejections());
}

/// A port is at most 65535; the parser checks only "1 to 5 digits".
#[test]
fn origins_with_an_out_of_range_port_are_rejected() {
    check_rejections(
        "AppOrigin::parse",
        AppOrigin::parse,
        &[
            r("https://app.example.com:99999", InvalidOrigin, &["port"]),
            r("https://app.example.com:65536", InvalidOrigin, &["port"]),
        ],
    );
}

#[test]
fn https_origins_and_http_localhost_are_accepted() {
    for (input, stored) in [
        ("https://app.example.com", "https://app.example.com"),
        ("https://app.example.com/", "https://app.example.com"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("  https://app.example.com  ", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://localhost", "http://localhost"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://localhost:5173", "https://localhost:5173"),
    ] {
        let origin = AppOrigin::parse(input).unwrap_or_else(|e| panic!("{input:?} was rejected: {e}"));
        assert_eq!(origin.as_str(), stored);
    }
}

// ---------------------------------------------------------------------------------------------
// The tables themselves
// ---------------------------------------------------------------------------------------------

#[test]
fn the_rejection_tables_cover_at_least_60_cases() {
    let total = bucket_rejections().len()
        + locator_rejections().len()
        + region_rejections().len()
        + arn_rejections().len()
        + prefix_rejections().len()
        + origin_rejections().len()
        + 5 // default scopes
        + 7; // partition mismatches
    assert!(total >= 60, "only {total} rejection cases");
}
