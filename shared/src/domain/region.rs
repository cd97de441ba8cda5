//! AWS regions and partitions. A region ends up in a hostname and in ARNs, so only regions on a
//! known list are accepted: `us-east-1.evil.com` can never reach a URL.

use crate::domain::input::{quoted, InputError, InputErrorKind};
use std::fmt;

/// The AWS partition: it decides the ARN prefix and the DNS suffix of S3 hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    /// The partition as it is written in an ARN (`arn:<partition>:...`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
        }
    }

    pub fn dns_suffix(self) -> &'static str {
        match self {
            Self::Aws | Self::AwsUsGov => "amazonaws.com",
            Self::AwsCn => "amazonaws.com.cn",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "aws" => Some(Self::Aws),
            "aws-cn" => Some(Self::AwsCn),
            "aws-us-gov" => Some(Self::AwsUsGov),
            _ => None,
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every commercial, China and GovCloud region with S3, as of 2026.
const REGIONS: &[(&str, Partition)] = &[
    ("af-south-1", Partition::Aws),
    ("ap-east-1", Partition::Aws),
    ("ap-east-2", Partition::Aws),
    ("ap-northeast-1", Partition::Aws),
    ("ap-northeast-2", Partition::Aws),
    ("ap-northeast-3", Partition::Aws),
    ("ap-south-1", Partition::Aws),
    ("ap-south-2", Partition::Aws),
    ("ap-southeast-1", Partition::Aws),
    ("ap-southeast-2", Partition::Aws),
    ("ap-southeast-3", Partition::Aws),
    ("ap-southeast-4", Partition::Aws),
    ("ap-southeast-5", Partition::Aws),
    ("ap-southeast-6", Partition::Aws),
    ("ap-southeast-7", Partition::Aws),
    ("ca-central-1", Partition::Aws),
    ("ca-west-1", Partition::Aws),
    ("eu-central-1", Partition::Aws),
    ("eu-central-2", Partition::Aws),
    ("eu-north-1", Partition::Aws),
    ("eu-south-1", Partition::Aws),
    ("eu-south-2", Partition::Aws),
    ("eu-west-1", Partition::Aws),
    ("eu-west-2", Partition::Aws),
    ("eu-west-3", Partition::Aws),
    ("il-central-1", Partition::Aws),
    ("me-central-1", Partition::Aws),
    ("me-south-1", Partition::Aws),
    ("mx-central-1", Partition::Aws),
    ("sa-east-1", Partition::Aws),
    ("us-east-1", Partition::Aws),
    ("us-east-2", Partition::Aws),
    ("us-west-1", Partition::Aws),
    ("us-west-2", Partition::Aws),
    ("cn-north-1", Partition::AwsCn),
    ("cn-northwest-1", Partition::AwsCn),
    ("us-gov-east-1", Partition::AwsUsGov),
    ("us-gov-west-1", Partition::AwsUsGov),
];

/// A region on the known list. Cheap to copy; always safe to put in a hostname.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(u8);

impl Region {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let trimmed = value.trim();
        if let Some(index) = REGIONS.iter().position(|(name, _)| *name == trimmed) {
            // The list has fewer than 256 entries, so the index always fits.
            return Ok(Self(index as u8));
        }
        let lower = trimmed.to_ascii_lowercase();
        let hint = if lower != trimmed && REGIONS.iter().any(|(name, _)| *name == lower) {
            format!(" Region codes are lowercase: use {lower:?}.")
        } else {
            " Use a region code such as \"us-east-1\" or \"eu-west-1\" (not a name like \"N. Virginia\")."
                .to_owned()
        };
        Err(InputError::new(
            InputErrorKind::InvalidRegion,
            format!("{} is not an AWS region with S3.{hint}", quoted(value)),
        ))
    }

    pub fn as_str(self) -> &'static str {
        REGIONS[usize::from(self.0)].0
    }

    pub fn partition(self) -> Partition {
        REGIONS[usize::from(self.0)].1
    }

    pub fn all() -> impl Iterator<Item = Region> {
        (0..REGIONS.len()).map(|i| Region(i as u8))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.as_str())
    }
}

impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Region::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_region_parses_to_itself() {
        for region in Region::all() {
            assert_eq!(Region::parse(region.as_str()), Ok(region));
        }
    }

    #[test]
    fn china_and_govcloud_regions_have_their_own_partitions() {
        assert_eq!(Region::parse("cn-north-1").map(Region::partition), Ok(Partition::AwsCn));
        assert_eq!(Region::parse("us-gov-west-1").map(Region::partition), Ok(Partition::AwsUsGov));
        assert_eq!(Partition::AwsCn.dns_suffix(), "amazonaws.com.cn");
    }
}
