//! The ARNs an admin types: IAM role ARNs (`arn:<partition>:iam::<12-digit account>:role[/path/]<name>`)
//! and KMS key ARNs (`arn:<partition>:kms:<region>:<account>:key/<key id>`).

use crate::domain::input::{quoted, InputError, InputErrorKind};
use crate::domain::region::{Partition, Region};
use std::fmt;

/// A syntactically valid IAM role ARN.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RoleArn {
    raw: String,
    partition: Partition,
    account_start: usize,
    name_start: usize,
}

const MAX_ARN_LEN: usize = 2048;
const MAX_ROLE_NAME: usize = 64;
const MAX_PATH: usize = 512;

fn invalid(value: &str, why: &str) -> InputError {
    InputError::new(
        InputErrorKind::InvalidRoleArn,
        format!(
            "{} is not an IAM role ARN: {why}. Copy the ARN from the role's summary in the IAM console; \
             it looks like \"arn:aws:iam::123456789012:role/platform-read\".",
            quoted(value)
        ),
    )
}

fn is_role_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

impl RoleArn {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let raw = value.trim();
        if raw.len() > MAX_ARN_LEN {
            return Err(invalid(value, "it is longer than 2048 characters"));
        }
        let mut parts = raw.splitn(6, ':');
        let (Some(arn), Some(partition), Some(service), Some(region), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(value, "it must have six ':'-separated parts"));
        };
        if arn != "arn" {
            return Err(invalid(value, "it must start with \"arn:\""));
        }
        let Some(partition) = Partition::parse(partition) else {
            return Err(invalid(
                value,
                &format!("{} is not a partition (use aws, aws-cn or aws-us-gov)", quoted(partition)),
            ));
        };
        if service != "iam" {
            return Err(invalid(value, &format!("the service is {}, not \"iam\"", quoted(service))));
        }
        if !region.is_empty() {
            return Err(invalid(value, "IAM ARNs have an empty region field (\"iam::\")"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                value,
                &format!("the account ID {} must be exactly 12 digits", quoted(account)),
            ));
        }
        let Some(path_and_name) = resource.strip_prefix("role/") else {
            return Err(invalid(
                value,
                &format!("the resource {} is not a role (it must start with \"role/\")", quoted(resource)),
            ));
        };
        if path_and_name.starts_with('/') {
            return Err(invalid(value, "the role path contains an empty segment (\"//\")"));
        }
        let (path, name) = match path_and_name.rfind('/') {
            Some(i) => (&path_and_name[..=i], &path_and_name[i + 1..]),
            None => ("", path_and_name),
        };
        if name.is_empty() {
            return Err(invalid(value, "the role name after \"role/\" is missing"));
        }
        if name.len() > MAX_ROLE_NAME {
            return Err(invalid(value, "the role name is longer than 64 characters"));
        }
        if let Some(c) = name.chars().find(|c| !is_role_name_char(*c)) {
            return Err(invalid(
                value,
                &format!("the role name contains {c:?}; only letters, digits and _+=,.@- are allowed"),
            ));
        }
        if !path.is_empty() {
            if path.len() + 1 > MAX_PATH {
                return Err(invalid(value, "the role path is longer than 512 characters"));
            }
            if path.contains("//") {
                return Err(invalid(value, "the role path contains an empty segment (\"//\")"));
            }
            if let Some(c) = path.chars().find(|c| !('\u{21}'..='\u{7e}').contains(c)) {
                return Err(invalid(value, &format!("the role path contains {c:?}")));
            }
        }
        let account_start = raw.len() - resource.len() - 1 - account.len();
        let name_start = raw.len() - name.len();
        Ok(Self { raw: raw.to_owned(), partition, account_start, name_start })
    }

    /// Parses the ARN and checks that it lives in the region's partition: a role in `aws`
    /// cannot be assumed for a bucket in `aws-cn`.
    pub fn parse_for_region(value: &str, region: Region) -> Result<Self, InputError> {
        let arn = Self::parse(value)?;
        arn.check_partition(region)?;
        Ok(arn)
    }

    pub fn check_partition(&self, region: Region) -> Result<(), InputError> {
        if self.partition == region.partition() {
            return Ok(());
        }
        Err(InputError::new(
            InputErrorKind::PartitionMismatch,
            format!(
                "The role {} is in partition {:?} but region {:?} is in partition {:?}; \
                 use a role from the same partition as the bucket's region.",
                quoted(&self.raw),
                self.partition.as_str(),
                region.as_str(),
                region.partition().as_str()
            ),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn partition(&self) -> Partition {
        self.partition
    }

    pub fn account_id(&self) -> &str {
        &self.raw[self.account_start..self.account_start + 12]
    }

    pub fn role_name(&self) -> &str {
        &self.raw[self.name_start..]
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoleArn({})", self.raw)
    }
}

impl serde::Serialize for RoleArn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for RoleArn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        RoleArn::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The most KMS keys one integration lists (a bucket has one default key; a few more cover
/// objects written before a key change).
pub const MAX_KMS_KEYS: usize = 10;

/// A KMS key ARN, `arn:<partition>:kms:<region>:<account>:key/<key id>`: a key id is a UUID, or
/// `mrk-` and 32 hex digits for a multi-Region key. Aliases are refused: IAM authorizes
/// `kms:Decrypt` against the key's ARN, never its alias.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KmsKeyArn {
    raw: String,
    region: Region,
}

fn invalid_kms(value: &str, why: &str) -> InputError {
    InputError::new(
        InputErrorKind::InvalidKmsKeyArn,
        format!(
            "{} is not a KMS key ARN: {why}. Copy the key's ARN from the KMS console (the bucket's default \
             encryption names it); it looks like \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\".",
            quoted(value)
        ),
    )
}

fn is_key_id(id: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if let Some(mrk) = id.strip_prefix("mrk-") {
        return mrk.len() == 32 && hex(mrk);
    }
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5 && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| hex(g))
}

impl KmsKeyArn {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let raw = value.trim();
        if raw.len() > 256 {
            return Err(invalid_kms(value, "it is longer than 256 characters"));
        }
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(invalid_kms(value, "it must have six ':'-separated parts"));
        };
        if arn != "arn" {
            return Err(invalid_kms(value, "it must start with \"arn:\""));
        }
        let Some(partition) = Partition::parse(partition) else {
            return Err(invalid_kms(value, &format!("{} is not a partition", quoted(partition))));
        };
        if service != "kms" {
            return Err(invalid_kms(value, &format!("the service is {}, not \"kms\"", quoted(service))));
        }
        let region = Region::parse(region)
            .map_err(|_| invalid_kms(value, &format!("{} is not a region", quoted(region))))?;
        if region.partition() != partition {
            return Err(invalid_kms(value, "its region is not in its partition"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_kms(
                value,
                &format!("the account ID {} must be exactly 12 digits", quoted(account)),
            ));
        }
        if resource.starts_with("alias/") {
            return Err(invalid_kms(value, "it names an alias; IAM grants kms:Decrypt on the key's own ARN"));
        }
        match resource.strip_prefix("key/") {
            Some(id) if is_key_id(id) => Ok(Self { raw: raw.to_owned(), region }),
            Some(_) => {
                Err(invalid_kms(value, "the key id must be a lowercase UUID or mrk- and 32 hex digits"))
            }
            None => Err(invalid_kms(value, "the resource must start with \"key/\"")),
        }
    }

    /// Parses the ARN and checks that the key is in `region`: S3 encrypts a bucket's objects only
    /// with keys in the bucket's region, so a key elsewhere can never be the one to decrypt.
    pub fn parse_for_region(value: &str, region: Region) -> Result<Self, InputError> {
        let arn = Self::parse(value)?;
        if arn.region != region {
            return Err(InputError::new(
                InputErrorKind::InvalidKmsKeyArn,
                format!(
                    "The KMS key {} is in {} but the integration's buckets are in {region}; S3 only uses keys in the \
                     bucket's own region. Use the key that the bucket's default encryption names.",
                    quoted(&arn.raw),
                    arn.region
                ),
            ));
        }
        Ok(arn)
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn region(&self) -> Region {
        self.region
    }
}

impl fmt::Display for KmsKeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for KmsKeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KmsKeyArn({})", self.raw)
    }
}

impl serde::Serialize for KmsKeyArn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_arn_with_a_path_keeps_account_and_name() {
        let arn = RoleArn::parse("arn:aws-us-gov:iam::123456789012:role/team/data/reader").unwrap();
        assert_eq!(arn.partition(), Partition::AwsUsGov);
        assert_eq!(arn.account_id(), "123456789012");
        assert_eq!(arn.role_name(), "reader");
    }

    #[test]
    fn a_kms_key_arn_names_its_region_and_refuses_aliases_and_foreign_regions() {
        let key = "arn:aws:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let us_east_1 = Region::parse("us-east-1").unwrap();
        assert_eq!(KmsKeyArn::parse_for_region(key, us_east_1).unwrap().as_str(), key);
        assert!(KmsKeyArn::parse(
            "arn:aws:kms:us-east-1:210987654321:key/mrk-1234abcd12ab34cd56ef1234567890ab"
        )
        .is_ok());
        for bad in [
            "arn:aws:kms:us-east-1:210987654321:alias/photos",
            "arn:aws:kms:us-east-1:210987654321:key/not-a-key",
            "arn:aws:s3:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-cn:kms:us-east-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:2109876:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:210987654321:key/1234ABCD-12ab-34cd-56ef-1234567890ab\"}",
        ] {
            assert_eq!(KmsKeyArn::parse(bad).unwrap_err().kind, InputErrorKind::InvalidKmsKeyArn, "{bad}");
        }
        let elsewhere = KmsKeyArn::parse_for_region(key, Region::parse("eu-west-1").unwrap()).unwrap_err();
        assert!(elsewhere.message.contains("region"), "{}", elsewhere.message);
    }
}
