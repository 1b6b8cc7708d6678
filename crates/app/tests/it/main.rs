//! The app crate's one integration-test binary. Every test runs on SQLite and, when
//! `BACKSTOP_TEST_PG_URL` is set (scripts/test.sh), on PostgreSQL too.

mod admins;
mod auth_cache;
mod browser;
mod care;
mod crosscheck;
mod entrance;
mod forms;
mod foundation;
mod hardening;
mod households;
mod id_privacy;
mod imports;
mod inspections;
mod institutions;
mod layout;
mod people;
mod privacy;
mod reports;
mod reports_burst;
mod routes;
mod screening;
mod security;
mod support;
mod webdriver;
