//! One integration-test binary (each tests/*.rs would link separately).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod audit;
mod badinput;
mod call_api;
mod cli;
mod concurrency;
mod crash;
mod entry;
mod exec;
mod format;
mod hardening;
mod hardening_http;
mod http;
mod layers;
mod leaks;
mod lifecycle;
mod listing;
mod manual;
mod multiproc;
mod netns;
mod packaging;
mod pgcluster;
mod pipes;
mod powercut;
mod raw;
mod rekey;
mod rekey_crash;
mod replay;
mod schemas;
mod starvation;
mod status;
mod stdio;
mod store;
mod tamper;
mod team;
mod team_guard;
mod upstream;
