//! SQL of the bulk import: whether a receipt number is already entered (skipped, so a file
//! uploaded twice is written once).

use crate::kernel::error::AppResult;
use crate::state::AppState;

/// Has the charity `org_id` entered a receipt numbered `no` (in any province)?
pub(crate) async fn receipt_no_entered(state: &AppState, org_id: i64, no: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM donation_receipts WHERE org_id = $1 AND receipt_no = $2",
    )
    .bind(org_id)
    .bind(no.to_string())
    .fetch_one(state.db.pool())
    .await?;
    Ok(n > 0)
}
