//! enquiry-relay: durable relay from care-home enquiry forms to CareHQ.
//!
//! A form post is validated ([`domain`]), stored with its outbox row in one
//! transaction ([`storage`]) and answered; the [`sync`] worker then delivers it
//! with the [`carehq`] client, retrying from durable state.
// Production code has no unsafe; test builds allow it only where tests set
// environment variables (config::test_env), which Rust 2024 marks unsafe.
#![cfg_attr(not(test), forbid(unsafe_code))]
#![cfg_attr(test, deny(unsafe_code))]

pub mod captcha;
pub mod carehq;
pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod fhir;
pub mod fhir_sandbox;
pub mod http;
pub mod mail;
pub mod ops;
pub mod outgoing;
pub mod partners;
pub mod sandbox;
pub mod site_forms;
pub mod spam;
pub mod startup;
pub mod storage;
pub mod sync;
pub mod telemetry;
pub mod values;
pub mod visits;
