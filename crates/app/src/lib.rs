//! Backstop (兜底): the civil-affairs emergency platform as one service.
//!
//! Layout: `kernel` (auth and sessions, the actor, the access layer with its scoped handles
//! and audited transactions, errors, web shell, operations) is shared; every area (`regions`,
//! `orgs`, `accounts`, `audit`, `home`, `reports`, …) owns its service functions (permissions,
//! validation, writes), its queries module (the only SQL of the area, reading through a scoped
//! handle), its API handlers (`web.rs`) and its pages (`pages.rs`). `route_table` lists every
//! route, `router` builds the application from it; `openapi` documents the API.

pub mod accounts;
pub mod assistance;
pub mod audit;
pub mod bookings;
pub mod care;
pub mod children;
pub mod crosscheck;
pub mod donations;
pub mod entrance;
pub mod federation;
pub mod home;
pub mod hotline;
pub mod inspections;
pub mod institutions;
pub mod kernel;
pub mod notify;
pub mod openapi;
pub mod orgs;
pub mod payments;
pub mod people;
pub mod pick;
pub mod privacy;
pub mod public;
pub mod regions;
pub mod reports;
pub mod screening;
pub mod state;
pub mod volunteers;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use backstop_core::clock::Clock;
use backstop_store::Db;

use crate::kernel::crypto::KeyRing;
use crate::kernel::error::AppError;
use crate::kernel::{ops, web};
pub use crate::state::{AppState, Config};

/// Every route the application serves, area by area: `router` builds from it, and the
/// route-generated scope test walks it, so a new route cannot be left out of that test.
pub fn route_table() -> web::Routes {
    let mut all = vec![
        ("/healthz", get(ops::healthz)),
        ("/readyz", get(ops::readyz)),
        ("/metrics", get(ops::metrics)),
        ("/assets/{*path}", get(web::asset)),
    ];
    for area in [
        home::routes(),
        regions::web::api_routes(),
        regions::pages::routes(),
        orgs::web::api_routes(),
        orgs::pages::routes(),
        accounts::web::api_routes(),
        notify::web::api_routes(),
        accounts::pages::routes(),
        accounts::device_pages::routes(),
        accounts::security_pages::routes(),
        public::routes(),
        notify::pages::routes(),
        notify::escalate_pages::routes(),
        notify::templates_pages::routes(),
        public::staff::routes(),
        audit::web::api_routes(),
        audit::pages::routes(),
        bookings::web::api_routes(),
        bookings::funeral_web::api_routes(),
        bookings::register_web::api_routes(),
        bookings::funeral_pages::routes(),
        bookings::pages::routes(),
        bookings::register_pages::routes(),
        bookings::public_pages::routes(),
        reports::web::api_routes(),
        reports::pages::routes(),
        institutions::web::api_routes(),
        institutions::pages::routes(),
        donations::web::api_routes(),
        donations::pages::routes(),
        donations::public_pages::routes(),
        donations::dashboard_pages::routes(),
        donations::dashboard_web::api_routes(),
        donations::import_pages::routes(),
        donations::needs_pages::routes(),
        donations::needs_web::api_routes(),
        federation::web::api_routes(),
        federation::pages::routes(),
        hotline::web::api_routes(),
        hotline::pages::routes(),
        inspections::web::api_routes(),
        inspections::pages::routes(),
        assistance::web::api_routes(),
        assistance::pages::routes(),
        assistance::stats_web::api_routes(),
        assistance::stats_pages::routes(),
        people::web::api_routes(),
        people::pages::routes(),
        people::household_pages::routes(),
        people::edit_pages::routes(),
        people::import_pages::api_routes(),
        people::import_pages::routes(),
        screening::web::api_routes(),
        screening::pages::routes(),
        care::web::api_routes(),
        children::web::api_routes(),
        children::pages::routes(),
        payments::web::api_routes(),
        payments::pages::routes(),
        care::pages::routes(),
        crosscheck::web::api_routes(),
        crosscheck::pages::routes(),
        entrance::web::api_routes(),
        entrance::pages::routes(),
        pick::web::api_routes(),
        volunteers::web::api_routes(),
        volunteers::pages::routes(),
        volunteers::public_pages::routes(),
        openapi::routes(),
    ] {
        all.extend(area);
    }
    all
}

/// The paths of [`route_table`], in order.
pub fn route_paths() -> Vec<&'static str> {
    route_table().into_iter().map(|(p, _)| p).collect()
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    web::warn_without_public_origin(&state);
    route_table()
        .into_iter()
        .fold(Router::new(), |r, (path, handlers)| r.route(path, handlers))
        .fallback(web::not_found_page)
        .layer(axum::middleware::from_fn(
            kernel::rejection::chinese_rejections,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            kernel::replay::page_form_replay,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::audit_denials,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            kernel::extract::utf8_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::csrf_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            public::limit_public,
        ))
        .layer(axum::middleware::from_fn(web::track))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::security_headers,
        ))
        .with_state(state)
}

/// Where the key file lives for a data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("master.key")
}

/// Where the disclosure key (Ed25519) lives: next to the master key file.
pub fn disclosure_key_path(key_file: &Path) -> PathBuf {
    key_file.with_file_name("disclosure.key")
}

/// Connect, migrate, load the embedded regions: a state ready to serve.
pub async fn open(
    database_url: &str,
    key_file: &Path,
    clock: Arc<dyn Clock>,
    config: Config,
) -> Result<AppState, OpenError> {
    let db = Db::connect_opts(
        database_url,
        backstop_store::DbOptions {
            busy_timeout: config.sqlite_busy_timeout,
            pg_group_commit: config.pg_group_commit,
            write_lanes: config.write_lanes,
            ..backstop_store::DbOptions::default()
        },
    )
    .await?;
    db.migrate().await?;
    people::pinyin::backfill(&db)
        .await
        .map_err(AppError::from)?;
    regions::backfill_initials(&db)
        .await
        .map_err(AppError::from)?;
    let keys = KeyRing::load_or_create(key_file)?;
    let state = AppState::new(db, clock, keys, config);
    state
        .disclosure
        .load_or_create(&disclosure_key_path(key_file))?;
    kernel::auth::load_rules(&state).await?;
    people::privacy::seal_clear_rows(&state).await?;
    privacy::seal_clear_rows(&state).await?;
    regions::load_embedded(&state).await?;
    reports::ensure_builtin_forms(&state).await?;
    Ok(state)
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] backstop_store::StoreError),
    #[error(transparent)]
    Keys(#[from] kernel::crypto::KeyError),
    #[error("{0}")]
    App(#[from] AppError),
}
