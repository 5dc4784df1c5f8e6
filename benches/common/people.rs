//! Who writes in: the 50 homes of the agency, and the families of the
//! recent (unscrubbed) enquiries — names from a short list, so a common
//! surname matches many, one surname found nowhere else, and an email
//! address and phone number unique to each enquiry.

use enquiry_relay::domain::{Enquiry, IntakeRules, RawSubmission};

/// The agency's homes: 50 sites, slugs and names from these two lists.
const PLACES: [&str; 10] = [
    "Abbey", "Beech", "Cedar", "Elm", "Hazel", "Linden", "Maple", "Oak", "Rowan", "Willow",
];
const KINDS: [&str; 5] = ["Court", "House", "Lodge", "Manor", "View"];
pub const SITES: usize = PLACES.len() * KINDS.len();

/// A home: (slug, name).
pub fn site(index: usize) -> (String, String) {
    let name = format!(
        "{} {}",
        PLACES[index % PLACES.len()],
        KINDS[(index / PLACES.len()) % KINDS.len()]
    );
    (name.to_lowercase().replace(' ', "-"), name)
}

/// `[[sites]]` tables for homes `homes` (their locations made up: nothing
/// of theirs is due to be sent while a bench runs).
pub fn sites_toml(homes: std::ops::Range<usize>) -> String {
    let mut toml = String::new();
    for i in homes {
        let (slug, name) = site(i);
        toml.push_str(&format!(
            "\n[[sites]]\nslug = \"{slug}\"\nname = \"{name}\"\nlocation = \"{:024x}\"\n\
             [sites.defaults]\nservice = \"residential_home\"\nfunding_type = \"not_sure\"\n",
            0x6724_fbc7_4f73_a2ce_0000_0000u128 + i as u128
        ));
    }
    toml
}

const FIRST_NAMES: [&str; 20] = [
    "Ann", "Brian", "Carol", "David", "Eileen", "Frank", "Grace", "Harold", "Irene", "James",
    "Kathleen", "Leonard", "Margaret", "Norman", "Olive", "Peter", "Rose", "Stanley", "Vera",
    "Walter",
];
/// Ten common surnames: a search for one matches about a tenth of the
/// unscrubbed enquiries. None is part of another (no "Smithson").
pub const SURNAMES: [&str; 10] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Wright",
];
/// The surname of exactly one enquiry.
pub const UNIQUE_SURNAME: &str = "Vanterpool";

const MESSAGES: [&str; 6] = [
    "My mother needs residential care from next month; could we visit?",
    "Dad has dementia and the family can no longer manage at home.",
    "Looking for respite care for two weeks in the summer.",
    "Do you have a ground-floor room with an en-suite?",
    "My aunt is in hospital and needs nursing care when discharged.",
    "What are your weekly fees, and is there a waiting list?",
];
const SERVICES: [&str; 4] = [
    "residential_home",
    "nursing_home",
    "dementia_care",
    "respite_care",
];
const FUNDING: [&str; 3] = ["private", "local_authority", "not_sure"];

/// The family of recent enquiry `k` (0 is the newest).
pub struct Family {
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: String,
    /// As stored: `07xxx xxxxxx`.
    pub phone: String,
    k: usize,
}

impl Family {
    pub fn of(k: usize, unique_surname: bool) -> Family {
        let first_name = FIRST_NAMES[(k * 7) % FIRST_NAMES.len()];
        let last_name = if unique_surname {
            UNIQUE_SURNAME
        } else {
            SURNAMES[(k + k / FIRST_NAMES.len()) % SURNAMES.len()]
        };
        // 7919 is prime to 10^8, so every k below 10^8 gets its own number.
        let digits = format!("{:09}", 400_000_000 + (k as u64 * 7919) % 100_000_000);
        Family {
            first_name,
            last_name,
            email: format!("{first_name}.{last_name}.{k}@example.org").to_lowercase(),
            phone: format!("07{} {}", &digits[..3], &digits[3..]),
            k,
        }
    }

    /// The phone number spaced as a person might type it into the search
    /// box (`07xx xxx xxxx`), not as it was stored.
    pub fn phone_as_typed(&self) -> String {
        let digits: String = self.phone.chars().filter(char::is_ascii_digit).collect();
        format!("{} {} {}", &digits[..4], &digits[4..7], &digits[7..])
    }

    /// The stored enquiry (JSON), made by the service's own parser from the
    /// fields a form would post.
    pub fn payload(&self) -> anyhow::Result<String> {
        let k = self.k;
        let pairs = [
            ("first_name", self.first_name.to_owned()),
            ("last_name", self.last_name.to_owned()),
            ("email", self.email.clone()),
            ("phone", self.phone.clone()),
            ("message", MESSAGES[k % MESSAGES.len()].to_owned()),
            ("service", SERVICES[k % SERVICES.len()].to_owned()),
            ("funding_type", FUNDING[k % FUNDING.len()].to_owned()),
            ("enquiring_for_self", "no".to_owned()),
        ];
        let raw = RawSubmission::new(
            pairs
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        );
        let enquiry = Enquiry::parse(&raw, &IntakeRules::default())
            .map_err(|e| anyhow::anyhow!("the seeded enquiry {k} does not validate: {e:?}"))?;
        Ok(serde_json::to_string(&enquiry)?)
    }
}
