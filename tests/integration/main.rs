//! One integration-test binary (each tests/*.rs would link separately).

mod common;

mod cli;
mod concurrency;
mod leaks;
mod schemas;
mod stdio;
mod tamper;
