//! Issue 20, first slice, on every backend: the parent's security administrator issues a child
//! node for a region in scope (the credential shown once, only its hash kept), at most one
//! active node per region; a node authenticates with its credential (a wrong, malformed or
//! revoked one is refused without saying which); a rotated credential keeps the old one for a
//! day; out of scope reads as not found, other roles are refused; every change is audited.

use backstop_app::federation::{self, NewNode};
use backstop_app::kernel::error::AppError;
use backstop_core::error::ErrorCode;

use crate::support::{T, audit_count, count, each_backend};

fn code<R>(r: Result<R, AppError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code)
}

/// An actor with one role and a scope, for calling the service directly.
fn actor(name: &str, role: &str, scope: &str) -> backstop_app::kernel::actor::Actor {
    use backstop_app::kernel::actor::{Actor, Via};
    use backstop_core::region::Scope;
    use backstop_core::role::{Role, RoleSet};
    Actor {
        user_id: None,
        username: name.to_string(),
        roles: RoleSet::new([Role::parse(role).expect("role")]),
        scope: Scope::parse(scope).expect("scope"),
        org_id: None,
        source: "test".to_string(),
        via: Via::Session(0),
    }
}

#[tokio::test]
async fn nodes_are_issued_authenticated_rotated_and_revoked() {
    each_backend(|t: T| async move {
        t.import_fixture().await;
        let sec = actor("sec.a", "secadmin", "13");
        let sec_b = actor("sec.b", "secadmin", "14");
        let off = actor("off.a", "official", "130110");
        let s = &t.state;
        let new = |region: &str| NewNode { region_code: region.into(), name: "鹿泉区民政局".into() };

        assert_eq!(code(federation::issue(s, &off, &new("130110")).await), Some(ErrorCode::Forbidden));
        assert_eq!(code(federation::issue(s, &sec_b, &new("130110")).await), Some(ErrorCode::NotFound));
        let bad = NewNode { region_code: "130110".into(), name: " ".into() };
        assert_eq!(code(federation::issue(s, &sec, &bad).await), Some(ErrorCode::Validation));
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM fed_nodes").await, 0);

        let issued = federation::issue(s, &sec, &new("130110")).await.expect("issue");
        let id = issued.node.id;
        assert_eq!((issued.node.status.as_str(), issued.node.region_name.as_str()), ("active", "鹿泉区"));
        assert!(issued.credential.starts_with(&format!("bsn_{id}_")));
        // Only the hash is stored.
        let secret = issued.credential.rsplit('_').next().expect("secret").to_string();
        assert_eq!(count(&t, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM fed_nodes WHERE secret_hash LIKE '%{secret}%'")).await, 0);
        assert_eq!(code(federation::issue(s, &sec, &new("130110")).await), Some(ErrorCode::Conflict), "one active node per region");

        // Authentication.
        let n = federation::authenticate(s, &issued.credential).await.expect("auth").expect("valid");
        assert_eq!((n.id, n.region_code.as_str()), (id, "130110"));
        assert!(federation::get(s, &sec, id).await.expect("get").last_seen_at.is_some());
        let mut wrong = issued.credential.clone();
        wrong.pop();
        wrong.push('x');
        for c in [wrong.as_str(), "bsn_1_short", "garbage", ""] {
            assert!(federation::authenticate(s, c).await.expect("auth").is_none(), "{c}");
        }
        assert_eq!(code(federation::get(s, &sec_b, id).await), Some(ErrorCode::NotFound));
        assert!(federation::list(s, &sec_b).await.expect("list").is_empty());
        assert_eq!(federation::list(s, &sec).await.expect("list").len(), 1);

        // Rotation: both work for a day, then only the new one.
        let rotated = federation::rotate(s, &sec, id).await.expect("rotate");
        assert_ne!(rotated.credential, issued.credential);
        assert!(federation::authenticate(s, &rotated.credential).await.expect("a").is_some());
        assert!(federation::authenticate(s, &issued.credential).await.expect("a").is_some(), "grace");
        t.clock.advance(chrono::Duration::hours(25));
        assert!(federation::authenticate(s, &issued.credential).await.expect("a").is_none(), "grace over");
        assert!(federation::authenticate(s, &rotated.credential).await.expect("a").is_some());

        // Revocation: refused at once; twice is a conflict; the region may have a new node.
        let r = federation::revoke(s, &sec, id).await.expect("revoke");
        assert_eq!(r.status_label, "已吊销");
        assert!(federation::authenticate(s, &rotated.credential).await.expect("a").is_none());
        assert_eq!(code(federation::revoke(s, &sec, id).await), Some(ErrorCode::Conflict));
        assert_eq!(code(federation::rotate(s, &sec, id).await), Some(ErrorCode::Conflict));
        federation::issue(s, &sec, &new("130110")).await.expect("a new node");

        assert_eq!(audit_count(&t, "federation.node_issue").await, 2);
        assert_eq!(audit_count(&t, "federation.node_rotate").await, 1);
        assert_eq!(audit_count(&t, "federation.node_revoke").await, 1);
        assert_eq!(count(&t, "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE detail LIKE '%bsn_%'").await, 0, "no credential in the audit log");
    })
    .await;
}
