//! What a failed CareHQ call means for the delivery (DESIGN.md "Delivery semantics").

use crate::carehq::CareHqError;

/// The worker's decision for a failed send.
#[derive(Debug, PartialEq)]
pub enum Disposition {
    /// Transient: try again on the retry schedule. `ambiguous` when CareHQ may
    /// already have created the record.
    Retry { ambiguous: bool },
    /// CareHQ's rate limit: wait, without spending an attempt.
    RateLimited,
    /// Credentials, permissions or configuration: pause all delivery and tell
    /// staff; the enquiry is not at fault, so it is not failed.
    Pause { reason: String },
    /// CareHQ refused this enquiry's data: staff must look at it.
    Fail,
    /// 404: something this row refers to (its site's location or group Id,
    /// or, for a home visit, its care enquiry) is not in CareHQ. Only this
    /// row fails; other sites and accounts keep being delivered.
    NotFound,
}

pub fn classify(error: &CareHqError) -> Disposition {
    match error {
        CareHqError::Connect(_) => Disposition::Retry { ambiguous: false },
        CareHqError::Timeout | CareHqError::Transport(_) => Disposition::Retry { ambiguous: true },
        CareHqError::Prepare(e) => Disposition::Pause {
            reason: format!("requests to CareHQ cannot be prepared ({e}); check carehq.base_url"),
        },
        CareHqError::Status { status, .. } => match *status {
            429 => Disposition::RateLimited,
            408 | 500..=599 => Disposition::Retry { ambiguous: true },
            401 => Disposition::Pause {
                reason: "CareHQ refused our credentials (401). Check carehq.account_id, carehq.api_key and \
                         carehq.api_secret, and that this machine's clock is right (signatures carry the time)."
                    .into(),
            },
            403 => Disposition::Pause {
                reason: "CareHQ refused permission (403). The API key needs 'Care enquiries > Create' (and \
                         'Home visits > Create' for visit requests); check any IP restriction on the key."
                    .into(),
            },
            404 => Disposition::NotFound,
            300..=399 => Disposition::Pause {
                reason: format!("CareHQ redirected the request ({status}). Check carehq.base_url (https, no path)."),
            },
            _ => Disposition::Fail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> CareHqError {
        CareHqError::Status {
            status,
            hint: None,
            arg_errors: None,
            rate_limit: None,
        }
    }

    #[test]
    fn sorts_every_kind_of_failure() {
        assert_eq!(
            classify(&CareHqError::Connect("refused".into())),
            Disposition::Retry { ambiguous: false }
        );
        assert_eq!(
            classify(&CareHqError::Timeout),
            Disposition::Retry { ambiguous: true }
        );
        assert_eq!(
            classify(&CareHqError::Transport("reset".into())),
            Disposition::Retry { ambiguous: true }
        );
        assert_eq!(
            classify(&status(500)),
            Disposition::Retry { ambiguous: true }
        );
        assert_eq!(
            classify(&status(503)),
            Disposition::Retry { ambiguous: true }
        );
        assert_eq!(
            classify(&status(408)),
            Disposition::Retry { ambiguous: true }
        );
        assert_eq!(classify(&status(429)), Disposition::RateLimited);
        assert_eq!(classify(&status(400)), Disposition::Fail);
        assert_eq!(classify(&status(422)), Disposition::Fail);
        assert_eq!(classify(&status(404)), Disposition::NotFound);
        for s in [401, 403, 302] {
            assert!(
                matches!(classify(&status(s)), Disposition::Pause { .. }),
                "{s}"
            );
        }
    }
}
