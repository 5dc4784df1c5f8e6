//! Name, email and phone read from a stored enquiry's payload, for the list
//! and the CSV export (the two places that show a family by its contact).

use serde_json::Value;

/// Name, email and phone from a stored enquiry (empty once scrubbed).
pub struct Contact {
    pub name: String,
    pub email: String,
    pub phone: String,
}

pub fn contact_of(payload: Option<&str>) -> Contact {
    let fields: Value = payload
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let name = format!("{} {}", text("first_name"), text("last_name"))
        .trim()
        .to_owned();
    Contact {
        name,
        email: text("email"),
        phone: text("phone"),
    }
}
