//! Aggregate figures up (issue 20 item 2, ADR 0015): what the parent needs from a child whose
//! records stay with the child — assistance totals ([`crate::assistance::stats`], per month),
//! the people under home observation ([`crate::screening`], as they stand now) and the
//! coverage of the parent's screening campaigns ([`crate::screening::federated`], per campaign). At the
//! child, [`queue_snapshots`] (each sync, before the events go) computes each kind's finest
//! lines for the node's region and queues a `figures` event when they differ from the last one
//! queued. At the parent, [`apply`] replaces the node's lines for that kind and period (every
//! line inside the node's region, else the event is rejected; an older snapshot than the one
//! kept is answered `duplicate`), and [`figures_under`] gives them to the area's statistics,
//! which add them to their own lines: a county reporting through a node then counts as one
//! reporting directly. No personal data: counts and fen per region.

use backstop_core::error::ErrorCode;
use backstop_core::region::RegionCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Node;
use super::queries::figures as q;
use crate::kernel::access::{Change, Tx};
use crate::kernel::actor::Actor;
use crate::kernel::error::{AppError, AppResult};
use crate::state::AppState;

/// The kinds of figures a child sends: the areas compute and read them.
pub const KINDS: [&str; 3] = [
    crate::assistance::stats::FIGURES_KIND,
    crate::screening::FIGURES_KIND,
    crate::screening::federated::COVERAGE_KIND,
];

/// A kind's current periods and each one's finest lines for the node's region, as JSON.
async fn lines_of(
    state: &AppState,
    kind: &str,
    code: &RegionCode,
) -> AppResult<Vec<(String, Vec<Value>)>> {
    fn json<T: Serialize>(v: &[T]) -> Vec<Value> {
        v.iter()
            .map(|l| serde_json::to_value(l).unwrap_or(Value::Null))
            .collect()
    }
    if kind == crate::screening::FIGURES_KIND {
        // As it stands now.
        let lines = crate::screening::node_lines(state, code).await?;
        return Ok(vec![("current".to_string(), json(&lines))]);
    }
    if kind == crate::screening::federated::COVERAGE_KIND {
        // Per campaign the parent opened, under the parent's id.
        let per = crate::screening::federated::node_lines(state, code).await?;
        return Ok(per.into_iter().map(|(p, l)| (p, json(&l))).collect());
    }
    let month = state.today().format("%Y-%m").to_string();
    let lines = crate::assistance::stats::node_lines(state, code, &month).await?;
    Ok(vec![(month, json(&lines))])
}

/// The body of a `figures` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub kind: String,
    /// The area's period (`YYYY-MM` for assistance, `current` for observation, the parent's
    /// campaign id for coverage).
    pub period: String,
    /// When the child computed it (ms, the child's clock).
    pub as_of: i64,
    /// The finest lines, each with `region_code` and `own_level`, as the area writes them.
    pub lines: Vec<Value>,
}

/// One line kept at the parent.
#[derive(Debug, Clone)]
pub struct FigureLine {
    pub node_id: i64,
    pub region_code: String,
    pub own_level: bool,
    /// The area's line, as JSON.
    pub body: String,
}

/// The lines of `kind` and `period` that child deployments sent for regions in `[lo, hi)`.
pub async fn figures_under(
    state: &AppState,
    kind: &str,
    period: &str,
    (lo, hi): (&str, &str),
) -> AppResult<Vec<FigureLine>> {
    q::under(state, kind, period, lo, hi).await
}

fn invalid(m: impl Into<String>) -> AppError {
    AppError::field(ErrorCode::Validation, "body", m)
}

/// Apply a snapshot from `node` as its service account: `true` when it replaced the lines,
/// `false` when it was not newer than the one kept (a replay).
pub(super) async fn apply(
    state: &AppState,
    node: &Node,
    actor: &Actor,
    body: &Value,
) -> AppResult<bool> {
    let s: Snapshot = serde_json::from_value(body.clone())
        .map_err(|e| invalid(format!("汇总数字事件格式错误：{e}")))?;
    if !KINDS.contains(&s.kind.as_str()) {
        return Err(invalid(format!(
            "不支持的汇总数字类型：{}",
            s.kind.chars().take(40).collect::<String>()
        )));
    }
    if s.period.is_empty() || s.period.len() > 20 || s.lines.len() > 20_000 {
        return Err(invalid("汇总数字的时段或行数不合规"));
    }
    if s.kind == crate::screening::federated::COVERAGE_KIND {
        // A campaign here that concerns the node.
        crate::screening::federated::check_period(state, actor, &s.period).await?;
    }
    let mut lines = Vec::with_capacity(s.lines.len());
    for l in &s.lines {
        let code = l["region_code"].as_str().unwrap_or_default();
        let region = RegionCode::parse(code).map_err(|_| invalid("汇总数字的区划代码错误"))?;
        // Only inside the node's region (else *not found*, as for a report).
        actor.within(&region)?;
        lines.push((
            code.to_string(),
            l["own_level"].as_bool().unwrap_or(false),
            l.to_string(),
        ));
    }
    if q::as_of(state, node, &s.kind, &s.period)
        .await?
        .is_some_and(|kept| kept >= s.as_of)
    {
        return Ok(false);
    }
    let mut tx = Tx::begin(state, actor).await?;
    q::replace(&mut tx, node, &s.kind, &s.period, s.as_of, &lines).await?;
    tx.commit(
        Change::new("federation.figures", "fed_node", node.id, &node.region_code).detail(
            json!({"kind": s.kind, "period": s.period, "lines": lines.len(),
                "as_of": backstop_core::clock::rfc3339(s.as_of)}),
        ),
    )
    .await?;
    Ok(true)
}

/// At a child: queue the current figures of every kind and period whose lines changed since
/// the last snapshot queued (nothing without a parent). Returns how many were queued.
pub(super) async fn queue_snapshots(state: &AppState, region: &str) -> AppResult<usize> {
    let code = crate::regions::parse_code("region_code", region)?;
    let mut queued = 0;
    for kind in KINDS {
        for (period, lines) in lines_of(state, kind, &code).await? {
            if queue_one(state, region, kind, &period, lines).await? {
                queued += 1;
            }
        }
    }
    Ok(queued)
}

/// Queue the snapshot of `kind` and `period` if its lines changed since the last one queued.
async fn queue_one(
    state: &AppState,
    region: &str,
    kind: &str,
    period: &str,
    lines: Vec<Value>,
) -> AppResult<bool> {
    let hash = state.keys.keyed_hash(
        "federation_figures",
        Value::Array(lines.clone()).to_string().as_bytes(),
    );
    let last = q::last(state, kind, period).await?;
    // Nothing to say and nothing said before: no snapshot (a county without assistance
    // records sends none); the same as last time: none either.
    if (lines.is_empty() && last.is_none()) || last.as_ref().is_some_and(|(h, _)| *h == hash) {
        return Ok(false);
    }
    // Strictly after the last one, even within one millisecond: the parent keeps the newest.
    let now = last
        .map(|(_, at)| at + 1)
        .unwrap_or_default()
        .max(state.now_ms());
    let body = json!(Snapshot {
        kind: kind.to_string(),
        period: period.to_string(),
        as_of: now,
        lines,
    });
    q::queue(state, region, kind, period, &hash, &body.to_string(), now).await?;
    Ok(true)
}
