//! Issue 21 item 4, on every backend: the audit log is one hash chain per province plus the
//! national one. An entry goes to its region's province's chain; on PostgreSQL a province's
//! append does not wait for another province's open transaction (no global lock); the national
//! chain records every other chain's head; `verify` checks each chain and names the first
//! broken entry — a changed entry in a province chain, and a province chain cut back below the
//! head the national chain recorded.

use backstop_app::audit::{self, Entry, Who};
use serde_json::json;

use crate::support::{T, count, each_backend};

fn entry(region: &str, n: i64) -> Entry<'static> {
    Entry {
        action: "org.create",
        object_type: "org",
        object_id: n.to_string(),
        region_code: region.to_string(),
        outcome: "success",
        detail: json!({"n": n}),
    }
}

async fn append(t: &T, region: &str, n: i64) {
    audit::append_alone(&t.state, &Who::system("test"), entry(region, n))
        .await
        .expect("append");
}

use crate::support::unguard_audit as unguard;

#[tokio::test]
async fn one_chain_per_province_verified_with_the_national_record_of_heads() {
    each_backend(|t: T| async move {
        for n in 0..5 {
            append(&t, "130110100001", n).await;
            append(&t, "440103", 100 + n).await;
        }
        append(&t, "0", 999).await;
        let chain_of = |id_region: &str| {
            format!("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE object_type = 'org' AND chain = '{id_region}'")
        };
        assert_eq!(count(&t, &chain_of("13")).await, 5);
        assert_eq!(count(&t, &chain_of("44")).await, 5);
        assert_eq!(count(&t, &chain_of("00")).await, 1);
        assert_eq!(audit::chain_of("130110100001"), "13");
        assert_eq!(audit::chain_of("0"), "00");
        assert_eq!(audit::chain_of(""), "00");

        let r = audit::verify(&t.state.db).await.expect("verify");
        assert!(r.first_broken.is_none(), "{r:?}");
        let chains: Vec<&str> = r.chains.iter().map(|c| c.0.as_str()).collect();
        for c in ["00", "13", "44"] {
            assert!(chains.contains(&c), "{c} in {chains:?}");
        }
        assert_eq!(r.entries, r.chains.iter().map(|c| c.1).sum::<i64>());
        let total = count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log").await;
        assert_eq!(r.entries, total, "every entry is on a chain and verified");

        // The national chain pins the heads; again with nothing moved: nothing recorded.
        let n = audit::record_heads(&t.state).await.expect("heads");
        assert!(n >= 2, "13 and 44 at least: {n}");
        assert_eq!(audit::record_heads(&t.state).await.expect("heads"), 0);
        append(&t, "440103", 200).await;
        assert_eq!(audit::record_heads(&t.state).await.expect("heads"), 1, "only 44 moved");
        let recorded: i64 = sqlx::query_scalar(
            "SELECT id FROM audit_log WHERE action = 'audit.chain_heads' ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("recorded");
        let r = audit::verify(&t.state.db).await.expect("verify");
        assert!(r.first_broken.is_none(), "{r:?}");

        // Guangdong's chain cut back below its recorded head: named, at the record.
        unguard(&t).await;
        sqlx::query(
            "DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log WHERE chain = '44')",
        )
        .execute(t.state.db.pool())
        .await
        .expect("cut");
        let last_44: i64 =
            sqlx::query_scalar("SELECT MAX(id) FROM audit_log WHERE chain = '44'")
                .fetch_one(t.state.db.pool())
                .await
                .expect("last");
        let r = audit::verify(&t.state.db).await.expect("verify");
        let (id, why) = r.first_broken.clone().expect("broken");
        assert_eq!(id, last_44, "the chain no longer ends at its kept head: {r:?}");
        assert!(why.contains("44"), "{why}");
        // Its kept head moved back too: the national chain's record still names the cut.
        sqlx::query(
            "UPDATE audit_heads SET hash = (SELECT hash FROM audit_log WHERE chain = '44' AND id = $1) \
             WHERE chain = '44'",
        )
        .bind(last_44)
        .execute(t.state.db.pool())
        .await
        .expect("move the head back");
        let r = audit::verify(&t.state.db).await.expect("verify");
        let (id, why) = r.first_broken.clone().expect("broken");
        assert_eq!(id, recorded, "{r:?}");
        assert!(why.contains("截断") && why.contains("44"), "{why}");

        // An entry changed in the middle of Hebei's chain: that entry, the lowest id broken.
        let target: i64 = sqlx::query_scalar(
            "SELECT id FROM audit_log WHERE chain = '13' AND object_id = '2'",
        )
        .fetch_one(t.state.db.pool())
        .await
        .expect("target");
        sqlx::query("UPDATE audit_log SET detail = '{}' WHERE id = $1")
            .bind(target)
            .execute(t.state.db.pool())
            .await
            .expect("tamper");
        let r = audit::verify(&t.state.db).await.expect("verify");
        assert_eq!(r.first_broken.map(|b| b.0), Some(target));
    })
    .await;
}

/// PostgreSQL: while one transaction holds Hebei's chain open, Guangdong's append goes through
/// at once, and Hebei's next waits for the first to commit — then both chains verify.
#[tokio::test]
async fn provinces_append_without_waiting_for_each_other() {
    each_backend(|t: T| async move {
        if t.backend == "sqlite" {
            return; // one writer: nothing to show
        }
        let mut held = t.state.db.begin_write().await.expect("begin");
        audit::append(
            held.conn(),
            &t.state.db,
            t.state.now_ms(),
            &Who::system("test"),
            entry("130110", 1),
        )
        .await
        .expect("append 13");
        let other =
            tokio::time::timeout(std::time::Duration::from_secs(10), append(&t, "440103", 2)).await;
        assert!(other.is_ok(), "Guangdong waited for Hebei's transaction");
        let state = t.state.clone();
        let same = tokio::spawn(async move {
            audit::append_alone(&state, &Who::system("test"), entry("130111", 3)).await
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !same.is_finished(),
            "Hebei's second append waits for the first"
        );
        held.commit().await.expect("commit");
        same.await.expect("join").expect("append");
        let r = audit::verify(&t.state.db).await.expect("verify");
        assert!(r.first_broken.is_none(), "{r:?}");
        let hebei: Vec<String> =
            sqlx::query_scalar("SELECT object_id FROM audit_log WHERE chain = '13' ORDER BY id")
                .fetch_all(t.state.db.pool())
                .await
                .expect("hebei");
        assert_eq!(hebei, ["1", "3"]);
    })
    .await;
}
