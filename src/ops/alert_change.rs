//! What an alert check read and what it won the right to announce: shared by
//! `alerts` (which decides) and `alert_message` (which words it).

use crate::storage::{DeliveryState, IncidentKind, StatusFigures};

/// What one check read: the figures its messages quote. It decides nothing:
/// by the time the check claims, another instance may have changed them.
#[derive(Debug, Clone)]
pub struct Observation {
    pub figures: StatusFigures,
    /// Each CareHQ account's delivery state, the default account first.
    pub deliveries: Vec<(String, DeliveryState)>,
    pub at: i64,
}

/// An incident this check won the right to announce: opened, or cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: IncidentKind,
    /// The CareHQ account a pause is about; `None` for the other kinds.
    pub account: Option<String>,
    /// What `alert_incidents.kind` holds for it (`storage::Incident::key`).
    pub key: String,
    pub opened: bool,
    /// When the incident began (for a clear: the incident that ended).
    pub opened_at: i64,
}
