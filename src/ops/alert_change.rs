//! What an alert check read and what it won the right to announce: shared by
//! `alerts` (which decides) and `alert_message` (which words it).

use crate::storage::{DeliveryState, IncidentKind, StatusFigures};

/// What one check read: the figures its messages quote. It decides nothing:
/// by the time the check claims, another instance may have changed them.
#[derive(Debug, Clone)]
pub struct Observation {
    pub figures: StatusFigures,
    pub delivery: DeliveryState,
    pub at: i64,
}

/// An incident this check won the right to announce: opened, or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub kind: IncidentKind,
    pub opened: bool,
    /// When the incident began (for a clear: the incident that ended).
    pub opened_at: i64,
}
