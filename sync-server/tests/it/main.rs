//! End-to-end tests of the server on real PostgreSQL and a real MongoDB-wire server, both
//! started by `cargo xtask test` (or pointed at by `DATABASE_URL` and `MONGODB_URI`).

mod accounts;
mod api;
mod devices;
mod plans;
mod rates;
mod reports;
mod support;
mod sync;
mod ui;
mod web;
