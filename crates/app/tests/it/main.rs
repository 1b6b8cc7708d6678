//! The app crate's one integration-test binary. Every test runs on SQLite and, when
//! `BACKSTOP_TEST_PG_URL` is set (scripts/test.sh), on PostgreSQL too.

mod admins;
mod auth_cache;
mod browser;
mod browser_day;
mod browser_public;
mod care;
mod crosscheck;
mod devices;
mod edit_disable;
mod entrance;
mod fever;
mod forms;
mod foundation;
mod hardening;
mod home_todo;
mod households;
mod id_privacy;
mod import_traps;
mod imports;
mod inspections;
mod institutions;
mod layout;
mod notify;
mod people;
mod privacy;
mod public;
mod report_followup;
mod reports;
mod reports_burst;
mod routes;
mod screening;
mod security;
mod settings;
mod support;
mod webdriver;
