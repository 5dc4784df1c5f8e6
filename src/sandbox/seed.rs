//! Fixed Ids and credentials the sandbox starts with; sandbox-mode config uses them too.

/// Account Id accepted by the sandbox.
pub const ACCOUNT_ID: &str = "000000000000000000000001";
/// API key accepted by the sandbox.
pub const API_KEY: &str = "sandbox-key";
/// API secret the sandbox verifies signatures with. Not a secret: sandbox only.
pub const API_SECRET: &str = "sandbox-secret";

/// Care homes (CareHQ locations) the sandbox knows: (Id, name).
pub const LOCATIONS: &[(&str, &str)] = &[
    ("6724fbc74f73a2cebf6377fa", "Upton Court"),
    ("6724fbc74f73a2cebf6377fb", "Lark Rise House"),
];

/// Groups the sandbox knows: (Id, name, group_type).
pub const GROUPS: &[(&str, &str, &str)] = &[
    ("6724fbc74f73a2cebf6377ea", "Website", "sales_channel"),
    ("6724fbc74f73a2cebf6377eb", "Phone", "sales_channel"),
    ("640f0f17f9b7e9ec6079fa16", "Care Directory", "referrer"),
    (
        "640f0f17f9b7e9ec6079fa17",
        "Hospital Discharge Team",
        "referrer",
    ),
];

/// The second demo account: sandbox mode shows an agency delivering for two
/// care providers, each with its own CareHQ account (and its own sandbox).
pub const PARTNER_ACCOUNT: &str = "demo-partner";
pub const PARTNER_ACCOUNT_ID: &str = "000000000000000000000002";
pub const PARTNER_API_KEY: &str = "sandbox-partner-key";
/// Not a secret: sandbox only.
pub const PARTNER_API_SECRET: &str = "sandbox-partner-secret";
/// The second demo site, the partner account's home.
pub const PARTNER_SLUG: &str = "lark-rise";
pub const PARTNER_LOCATION: &str = "6724fbc74f73a2cebf6377fb";

/// The location and sales channel the built-in demo site uses.
pub const DEMO_LOCATION: &str = "6724fbc74f73a2cebf6377fa";
pub const DEMO_SALES_CHANNEL: &str = "6724fbc74f73a2cebf6377ea";
