//! Helpers: run the real `countersign` binary against a home directory.
//! Every helper is re-exported here: tests name them `crate::common::NAME`.

mod crafted;
mod departments;
mod home;
mod patients;
mod run;
mod values;

pub use crafted::{craft, crafted_roster, ct_chest_create, sealed_create, SealedReport};
pub use departments::{added, founder, founder_with_phantom, two_attendings, AI_MEMBER};
pub use home::{open_app_home, Home, DEMO_PASSPHRASE};
pub use patients::{patient_series, set_patient};
pub use run::{bin, python, tests_dir, use_cli_as_decode_worker, Run};
pub use values::{every_file, genesis_in, ids, now_ms, str_of};
