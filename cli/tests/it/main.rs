//! End-to-end tests of the `expenso` binary: real processes on real ledger files.

mod commands;
mod crash;
