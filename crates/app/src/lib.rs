//! Backstop (兜底): the civil-affairs emergency platform as one service.
//!
//! Layout: `kernel` (auth, sessions, the actor and its scope, errors, web shell, operations)
//! is shared; every area (`regions`, `orgs`, `accounts`, `audit`, …) owns its service
//! functions (where permissions and scope are enforced), its API handlers (`web.rs`) and its
//! pages (`pages.rs`). `router` puts them together; `openapi` documents the API.

pub mod accounts;
pub mod audit;
pub mod care;
pub mod crosscheck;
pub mod entrance;
pub mod inspections;
pub mod institutions;
pub mod kernel;
pub mod openapi;
pub mod orgs;
pub mod pages;
pub mod people;
pub mod regions;
pub mod reports;
pub mod screening;
pub mod state;

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

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(regions::web::api_routes())
        .merge(orgs::web::api_routes())
        .merge(accounts::web::api_routes())
        .merge(audit::web::api_routes())
        .merge(reports::web::api_routes())
        .merge(institutions::web::api_routes())
        .merge(inspections::web::api_routes())
        .merge(people::web::api_routes())
        .merge(people::import_pages::api_routes())
        .merge(screening::web::api_routes())
        .merge(care::web::api_routes())
        .merge(crosscheck::web::api_routes())
        .merge(entrance::web::api_routes())
        .merge(openapi::routes())
        .merge(pages::routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/assets/{*path}", get(web::asset))
        .fallback(web::not_found_page)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(web::csrf_guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::track,
        ))
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// Where the key file lives for a data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("master.key")
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
            ..backstop_store::DbOptions::default()
        },
    )
    .await?;
    db.migrate().await?;
    people::pinyin::backfill(&db)
        .await
        .map_err(AppError::from)?;
    let keys = KeyRing::load_or_create(key_file)?;
    let state = AppState::new(db, clock, keys, config);
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
