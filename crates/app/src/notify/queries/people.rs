//! The notification SQL about texts and people: the stored versions of the message templates
//! and each user's channels, with the users and keepers a notification reaches. Split from
//! `queries` (deliveries and the escalation engine) to keep each file readable.

use super::*;

// ---- Templates (`templates`): the stored versions (version 1 is built in, never stored).

use crate::notify::templates::Version;

/// The newest stored version of a template: (version, title, body).
pub(in crate::notify) async fn template_current(
    conn: &mut sqlx::AnyConnection,
    key: &str,
) -> AppResult<Option<(i64, String, String)>> {
    let row = sqlx::query(
        "SELECT version, title, body FROM notify_templates WHERE template_key = $1 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("version")?,
            r.try_get("title")?,
            r.try_get("body")?,
        ))
    })
    .transpose()
    .map_err(|e: sqlx::Error| e.into())
}

/// The stored versions (of one template, or all), newest first: (key, version).
pub(in crate::notify) async fn template_versions(
    state: &AppState,
    key: Option<&str>,
) -> AppResult<Vec<(String, Version)>> {
    let rows = sqlx::query(
        "SELECT template_key, version, title, body, created_by, created_at FROM notify_templates \
         WHERE $1 = '' OR template_key = $1 ORDER BY template_key, version DESC",
    )
    .bind(key.unwrap_or(""))
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let at: i64 = r.try_get("created_at")?;
            Ok((
                r.try_get("template_key")?,
                Version {
                    version: r.try_get("version")?,
                    title: r.try_get("title")?,
                    body: r.try_get("body")?,
                    created_by: r.try_get("created_by")?,
                    created_at: backstop_core::clock::format_beijing(
                        backstop_core::clock::from_millis(at),
                    ),
                },
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Store the next version of a template; returns its number (2 for the first edit).
pub(in crate::notify) async fn insert_template_version(
    tx: &mut Tx,
    key: &str,
    title: &str,
    body: &str,
    by: &str,
    now: i64,
) -> AppResult<i64> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM notify_templates WHERE template_key = $1")
            .bind(key)
            .fetch_one(tx.conn())
            .await?;
    let version = last.unwrap_or(1) + 1;
    sqlx::query(
        "INSERT INTO notify_templates (template_key, version, title, body, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key)
    .bind(version)
    .bind(title)
    .bind(body)
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(version)
}

// ---- Users' channels: what each user accepts, and the users a notification reaches.

/// The channels a user set (None: never set, every channel accepted).
pub(in crate::notify) async fn user_channels(
    state: &AppState,
    user_id: i64,
) -> AppResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT channels FROM user_channels WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?,
    )
}

pub(in crate::notify) async fn put_user_channels(
    tx: &mut Tx,
    user_id: i64,
    channels: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO user_channels (user_id, channels, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET channels = $2, updated_at = $3",
    )
    .bind(user_id)
    .bind(channels)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A user a notification is addressed to (`user:ID`): the sealed phone, if registered, and
/// the channels the user set.
pub(in crate::notify) struct UserTarget {
    pub phone_enc: Option<Vec<u8>>,
    pub channels: Option<String>,
}

/// Ids (sorted, each once) as comma-separated lists of at most 500, for `IN (…)`: numbers
/// only, nothing from input reaches the SQL text.
fn id_lists(mut ids: Vec<i64>) -> Vec<String> {
    ids.sort_unstable();
    ids.dedup();
    ids.chunks(500)
        .map(|c| c.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
        .collect()
}

/// The users of `user:ID` units, by id, in one query per 500.
pub(in crate::notify) async fn user_targets(
    state: &AppState,
    ids: &[i64],
) -> AppResult<HashMap<i64, UserTarget>> {
    let mut out = HashMap::new();
    for list in id_lists(ids.to_vec()) {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT u.id, u.phone_enc, c.channels FROM users u \
             LEFT JOIN user_channels c ON c.user_id = u.id \
             WHERE u.id IN ({list}) AND u.disabled = 0"
        )))
        .fetch_all(state.db.pool())
        .await?;
        for r in rows {
            out.insert(
                r.try_get("id")?,
                UserTarget {
                    phone_enc: r.try_get("phone_enc")?,
                    channels: r.try_get("channels")?,
                },
            );
        }
    }
    Ok(out)
}

/// A user's registered phone, masked (empty: none).
pub(in crate::notify) async fn user_phone_masked(
    state: &AppState,
    user_id: i64,
) -> AppResult<String> {
    let m: Option<String> = sqlx::query_scalar("SELECT phone_masked FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(m.unwrap_or_default())
}

/// The phones of home observations' keepers (`observation:ID:keeper:N` units), unsealed, by
/// unit, in one query per 500 observations.
pub(in crate::notify) async fn keeper_phones(
    state: &AppState,
    units: &[String],
) -> AppResult<HashMap<String, String>> {
    let ids: Vec<i64> = units
        .iter()
        .filter_map(|u| u.strip_prefix("observation:"))
        .filter_map(|r| r.split(':').next().and_then(|id| id.parse().ok()))
        .collect();
    let mut out = HashMap::new();
    for list in id_lists(ids) {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT observation_id, seq, phone_enc FROM observation_keepers \
             WHERE observation_id IN ({list}) AND phone_enc IS NOT NULL"
        )))
        .fetch_all(state.db.pool())
        .await?;
        for r in rows {
            let id: i64 = r.try_get("observation_id")?;
            let seq: i64 = r.try_get("seq")?;
            let enc: Vec<u8> = r.try_get("phone_enc")?;
            if let Some(phone) = state
                .keys
                .decrypt(&enc)
                .and_then(|b| String::from_utf8(b).ok())
            {
                out.insert(format!("observation:{id}:keeper:{seq}"), phone);
            }
        }
    }
    Ok(out)
}
