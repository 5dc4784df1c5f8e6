//! Home visit booking: which slots a home offers (`slots`) and checking the
//! visit a family asked for (`request`). `Enquiry::parse` does not know about
//! visits; the intake route runs both and merges their field errors. `open`
//! takes away the slots already full.

pub mod open;
pub mod request;
pub mod slots;

pub use open::{OpenSlot, open_slots};
pub use request::{VISIT_DATE_TIME, VISIT_TYPE, VisitChoice, requested};
pub use slots::{Slot, SlotProblem, candidate_slots, slot_at};

#[cfg(test)]
mod tests;
