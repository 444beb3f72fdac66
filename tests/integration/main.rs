//! Countersign's integration tests: whole workflows through the real CLI and real SQLite files.

mod ai;
mod ai_members;
mod bundle_scale;
mod common;
mod crash;
mod dcmtk;
mod exports;
mod followups;
mod fork;
mod fuzz_corpus;
mod hostile;
mod hostile_files;
mod import;
mod insider;
mod jpeg2000;
mod logs;
mod malformed;
mod palette;
mod phantom;
mod power_loss;
mod rejections;
mod sync;
mod sync_access;
mod tamper;
mod templates;
mod workflow;
