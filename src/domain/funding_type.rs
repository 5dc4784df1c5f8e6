//! `FundingType`: how the care will be paid for, CareHQ's `funding_type` enum
//! (docs/carehq-api.md, "Care enquiries"), with plain labels for a form.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(try_from = "String", into = "String")]
#[strum(serialize_all = "snake_case")]
pub enum FundingType {
    Private,
    LocalAuthority,
    LocalAuthorityTopUp,
    Chc,
    ChcLifestyle,
    BlockBed,
    DtaSpot,
    NotSure,
}

impl FundingType {
    /// Every value, in the order a form lists them.
    pub const ALL: [FundingType; 8] = [
        Self::Private,
        Self::LocalAuthority,
        Self::LocalAuthorityTopUp,
        Self::Chc,
        Self::ChcLifestyle,
        Self::BlockBed,
        Self::DtaSpot,
        Self::NotSure,
    ];

    /// Accepts the CareHQ value in any case, with `-` or space for `_`:
    /// WordPress's `sanitize_title` turns `local_authority` into
    /// `local-authority`, and those forms are still out there.
    pub fn parse(value: &str) -> Result<Self, String> {
        let wanted: String = value
            .trim()
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Self::ALL
            .into_iter()
            .find(|funding| funding.as_str() == wanted)
            .ok_or_else(|| "Choose how the care will be paid for from the list".to_owned())
    }

    /// The value CareHQ expects.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Plain words for a form's options.
    pub fn label(self) -> &'static str {
        match self {
            Self::Private => "Paying privately",
            Self::LocalAuthority => "Local authority",
            Self::LocalAuthorityTopUp => "Local authority with a top-up",
            Self::Chc => "NHS Continuing Healthcare",
            Self::ChcLifestyle => "NHS Continuing Healthcare (lifestyle)",
            Self::BlockBed => "Block-booked bed",
            Self::DtaSpot => "Discharge to assess (spot bed)",
            Self::NotSure => "Not sure yet",
        }
    }
}

impl TryFrom<String> for FundingType {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<FundingType> for String {
    fn from(funding: FundingType) -> Self {
        funding.as_str().to_owned()
    }
}

impl fmt::Display for FundingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_carehq_name() {
        let names: Vec<&str> = FundingType::ALL.map(FundingType::as_str).to_vec();
        assert_eq!(
            names,
            [
                "private",
                "local_authority",
                "local_authority_top_up",
                "chc",
                "chc_lifestyle",
                "block_bed",
                "dta_spot",
                "not_sure"
            ]
        );
        for funding in FundingType::ALL {
            assert_eq!(FundingType::parse(funding.as_str()), Ok(funding));
            assert_eq!(
                serde_json::to_value(funding).unwrap(),
                serde_json::Value::String(funding.as_str().to_owned())
            );
            assert!(!funding.label().is_empty());
        }
    }

    #[test]
    fn accepts_slugs_and_other_spellings() {
        let cases = [
            ("local-authority", FundingType::LocalAuthority),
            ("Local Authority", FundingType::LocalAuthority),
            (
                "  LOCAL_AUTHORITY_TOP_UP ",
                FundingType::LocalAuthorityTopUp,
            ),
            ("local-authority-top-up", FundingType::LocalAuthorityTopUp),
            ("CHC", FundingType::Chc),
            ("chc-lifestyle", FundingType::ChcLifestyle),
            ("block bed", FundingType::BlockBed),
            ("dta-spot", FundingType::DtaSpot),
            ("not-sure", FundingType::NotSure),
            ("Private", FundingType::Private),
        ];
        for (input, want) in cases {
            assert_eq!(FundingType::parse(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn refuses_values_carehq_does_not_have() {
        // `NHS`, `Charity` and `Other` are in a WordPress plugin's help text, not in the API.
        for input in [
            "",
            "NHS",
            "Charity",
            "Other",
            "privately",
            "local__authority",
            "not sure yet",
        ] {
            assert_eq!(
                FundingType::parse(input),
                Err("Choose how the care will be paid for from the list".to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn stored_value_is_parsed_again() {
        let funding: FundingType = serde_json::from_str("\"chc_lifestyle\"").unwrap();
        assert_eq!(funding, FundingType::ChcLifestyle);
        assert!(serde_json::from_str::<FundingType>("\"nhs\"").is_err());
    }
}
