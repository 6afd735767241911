//! Integration tests of the core: one binary, a module per area.

mod backup;
mod convergence;
mod imports;
mod merge;
mod plans;
mod queries;
mod rates;
mod reports;
mod store;
mod support;
mod sync_harness;
