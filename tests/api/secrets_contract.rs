//! The secrets contract: every promise of `SecretSealer`, run against `KmsSealer` over the
//! emulator's KMS (moto, a fresh key per test) and against the in-process `MemorySealer`, so that
//! handler tests sealing with the memory sealer prove what they would prove with KMS. Each
//! contract test is written once, as a function of the sealer, and the `contract!` macro runs it
//! on both.

use crate::helpers::*;
use shared::aws::secrets::{SecretError, SharedSealer};
use shared::domain::org::OrgId;
use shared::domain::s3_compatible::{SealedSecret, SecretAccessKey};

/// A sealer over a new key in moto's KMS.
async fn kms() -> SharedSealer {
    kms_sealer(&aws_config().await).await.0
}

fn memory() -> SharedSealer {
    memory_sealer()
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_kms {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::kms().await, super::kms().await).await
            })*
        }
        mod in_memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::memory(), super::memory()).await
            })*
        }
    };
}

// Each test gets the sealer under test and a second, independent one of the same kind (another
// KMS key; another memory key), for the tests that need "someone else's" sealer.
contract!(
    a_sealed_secret_opens_to_the_same_secret_for_its_org,
    the_sealed_bytes_never_contain_the_secret,
    sealing_the_same_secret_twice_gives_different_ciphertexts_that_both_open,
    a_secret_sealed_for_one_org_is_refused_for_every_other_org,
    a_ciphertext_with_any_one_byte_flipped_is_refused,
    an_empty_or_truncated_or_made_up_ciphertext_is_refused,
    a_ciphertext_sealed_by_another_sealer_is_refused,
);

const ORG: &str = "acme";
/// Secrets as stores issue them: MinIO's shortest, an AWS-shaped one, and the longest accepted,
/// with every kind of printable character.
const SECRETS: &[&str] = &[
    "minio123",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "+/=!\"#$%&'()*,-.:;<>?@[\\]^_`{|}~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/=!\"#$%&'()*,-.:;<>?@[\\]^_`{|}~01",
];

fn org(name: &str) -> OrgId {
    OrgId::parse(name).unwrap()
}

fn secret(text: &str) -> SecretAccessKey {
    SecretAccessKey::parse(text).unwrap_or_else(|e| panic!("{text:?} is a valid secret: {}", e.message))
}

async fn seal(sealer: &SharedSealer, org_id: &str, text: &str) -> SealedSecret {
    sealer.seal(&org(org_id), &secret(text)).await.unwrap_or_else(|e| panic!("sealing {text:?}: {e}"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Opening `sealed` for `org_id` fails as `Refused` (never `Unavailable`: a retry would not help,
/// and the caller would tell the user to try again), and the error never quotes a secret.
async fn assert_refused(sealer: &SharedSealer, org_id: &str, sealed: &SealedSecret, what: &str) {
    match sealer.open(&org(org_id), sealed).await {
        Ok(opened) => panic!("{what}: opened (to {} characters)", opened.expose().len()),
        Err(SecretError::Refused(detail)) => {
            for text in SECRETS {
                assert!(!detail.contains(text), "{what}: the error quotes a secret: {detail}");
            }
        }
        Err(other) => panic!("{what}: {other:?}, not Refused"),
    }
}

async fn a_sealed_secret_opens_to_the_same_secret_for_its_org(sealer: SharedSealer, _other: SharedSealer) {
    for text in SECRETS {
        let sealed = seal(&sealer, ORG, text).await;
        let opened =
            sealer.open(&org(ORG), &sealed).await.unwrap_or_else(|e| panic!("opening {text:?}: {e}"));
        assert_eq!(opened.expose(), *text);
        // Orgs are told apart by their whole id: one that only extends this one's is another org.
        let sealed = seal(&sealer, "acme-2", text).await;
        assert_eq!(sealer.open(&org("acme-2"), &sealed).await.unwrap().expose(), *text);
    }
}

async fn the_sealed_bytes_never_contain_the_secret(sealer: SharedSealer, _other: SharedSealer) {
    for text in SECRETS {
        let sealed = seal(&sealer, ORG, text).await;
        let bytes = sealed.ciphertext();
        assert!(!bytes.is_empty());
        assert!(!contains(bytes, text.as_bytes()), "{text:?} is in its sealed form");
        // Not even a recognisable part of it: no 6-byte run of the secret survives.
        for window in text.as_bytes().windows(6) {
            assert!(
                !contains(bytes, window),
                "{:?} of {text:?} is in its sealed form",
                String::from_utf8_lossy(window)
            );
        }
        assert!(!format!("{sealed:?}").contains(text), "Debug shows the secret");
    }
}

async fn sealing_the_same_secret_twice_gives_different_ciphertexts_that_both_open(
    sealer: SharedSealer,
    _other: SharedSealer,
) {
    let text = SECRETS[1];
    let first = seal(&sealer, ORG, text).await;
    let second = seal(&sealer, ORG, text).await;
    assert_ne!(first.ciphertext(), second.ciphertext(), "sealing is randomised: equal secrets do not show");
    for sealed in [&first, &second] {
        assert_eq!(sealer.open(&org(ORG), sealed).await.unwrap().expose(), text);
    }
}

async fn a_secret_sealed_for_one_org_is_refused_for_every_other_org(
    sealer: SharedSealer,
    _other: SharedSealer,
) {
    let sealed = seal(&sealer, ORG, SECRETS[1]).await;
    for other in ["globex", "acme-2", "acm", "ACME", "acme.", "a"] {
        assert_refused(&sealer, other, &sealed, &format!("sealed for {ORG}, opened for {other}")).await;
    }
    // Refusing another org leaves the ciphertext good for its own.
    assert_eq!(sealer.open(&org(ORG), &sealed).await.unwrap().expose(), SECRETS[1]);
}

async fn a_ciphertext_with_any_one_byte_flipped_is_refused(sealer: SharedSealer, _other: SharedSealer) {
    let sealed = seal(&sealer, ORG, SECRETS[1]).await;
    let bytes = sealed.ciphertext().to_vec();
    // Every position: the key reference and nonce at the front, the ciphertext, the tag at the end.
    for i in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        let tampered = SealedSecret::from_ciphertext(tampered);
        assert_refused(&sealer, ORG, &tampered, &format!("byte {i} of {} flipped", bytes.len())).await;
    }
}

async fn an_empty_or_truncated_or_made_up_ciphertext_is_refused(sealer: SharedSealer, _other: SharedSealer) {
    let sealed = seal(&sealer, ORG, SECRETS[1]).await;
    let bytes = sealed.ciphertext();
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("one byte".into(), vec![0]),
        ("the first 12 bytes".into(), bytes[..12].to_vec()),
        ("all but the last byte".into(), bytes[..bytes.len() - 1].to_vec()),
        ("all but the first byte".into(), bytes[1..].to_vec()),
        ("one byte added".into(), [bytes, &[0u8][..]].concat()),
        ("zeros of the same length".into(), vec![0; bytes.len()]),
        ("the secret itself".into(), SECRETS[1].as_bytes().to_vec()),
    ];
    for (what, ciphertext) in cases {
        assert_refused(&sealer, ORG, &SealedSecret::from_ciphertext(ciphertext), &what).await;
    }
}

async fn a_ciphertext_sealed_by_another_sealer_is_refused(sealer: SharedSealer, other: SharedSealer) {
    let theirs = seal(&other, ORG, SECRETS[1]).await;
    assert_refused(&sealer, ORG, &theirs, "sealed under another key, same org").await;
    let ours = seal(&sealer, ORG, SECRETS[1]).await;
    assert_refused(&other, ORG, &ours, "ours, opened under another key").await;
}
