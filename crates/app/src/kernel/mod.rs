//! The shared kernel every area uses: errors, keys and crypto, the acting user and its scope,
//! authentication and sessions, the web shell (layout, security headers, CSRF, assets) and
//! operations endpoints. Kept small on purpose; anything about one area lives in that area.

pub mod access;
pub mod actor;
pub mod auth;
pub mod authcache;
pub mod cells;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod form;
pub mod handler;
pub mod ops;
pub mod queries;
pub mod rejection;
pub mod replay;
pub mod web;
