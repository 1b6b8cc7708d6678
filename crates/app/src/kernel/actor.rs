//! The acting user of a request or command, and the scope rule.
//!
//! Every service function takes an `&Actor` and asks it, never the handler: does it hold this
//! permission (`require`), is this region inside its scope (`check_region`, which answers
//! *not found* for anything outside, so existence never leaks), and what SQL range limits a
//! list to its scope (`scope_bounds`).

use backstop_core::error::ErrorCode;
use backstop_core::region::{RegionCode, Scope};
use backstop_core::role::{Permission, RoleSet};

use crate::kernel::error::{AppError, AppResult};

/// How the actor authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session(i64),
    ApiToken(i64),
    /// The `backstop` command run by an operator on the server itself.
    Cli,
    /// A child deployment's events, under its node's service account (issue 20).
    Node(i64),
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: String,
    pub roles: RoleSet,
    pub scope: Scope,
    pub org_id: Option<i64>,
    /// Source address (or `cli:USER`), for the audit log.
    pub source: String,
    pub via: Via,
}

impl Actor {
    /// The actor's own province: the prefix of their scope (`00` for a national user) — where
    /// their idempotency records live (on Citus, the shard of that province).
    pub fn province(&self) -> &str {
        crate::audit::chain_of(self.scope.as_str())
    }

    /// The operator at the server's console: national scope, bound only by validation.
    pub fn operator() -> Actor {
        let who = std::env::var("USER").unwrap_or_else(|_| "operator".to_string());
        Actor {
            user_id: None,
            username: format!("cli:{who}"),
            roles: RoleSet::default(),
            scope: Scope::National,
            org_id: None,
            source: "cli".to_string(),
            via: Via::Cli,
        }
    }

    pub fn is_operator(&self) -> bool {
        self.via == Via::Cli
    }

    pub fn can(&self, p: Permission) -> bool {
        self.is_operator() || self.roles.has(p)
    }

    /// Forbidden unless the actor holds `p`.
    pub fn require(&self, p: Permission) -> AppResult<()> {
        if self.can(p) {
            Ok(())
        } else {
            Err(AppError::new(ErrorCode::Forbidden))
        }
    }

    pub fn sees(&self, code: &RegionCode) -> bool {
        self.scope.contains(code)
    }

    /// Not found unless `code` is inside the actor's scope.
    pub fn check_region(&self, code: &RegionCode) -> AppResult<()> {
        if self.sees(code) {
            Ok(())
        } else {
            Err(AppError::not_found())
        }
    }

    /// Not found unless the stored scope string `s` ('0' or a code) is inside the actor's scope.
    pub fn sees_scope_str(&self, s: &str) -> bool {
        match Scope::parse(s) {
            Ok(other) => self.scope.contains_scope(&other),
            Err(_) => false,
        }
    }

    /// Half-open range `[lo, hi)` of region codes in scope, for `col >= lo AND col < hi`.
    /// National scope is the range of all codes.
    pub fn scope_bounds(&self) -> (String, String) {
        self.scope
            .sql_bounds()
            .unwrap_or_else(|| (String::new(), "~".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstop_core::role::Role;

    fn actor(scope: &str, roles: &[Role]) -> Actor {
        Actor {
            user_id: Some(1),
            username: "u".into(),
            roles: RoleSet::new(roles.iter().copied()),
            scope: Scope::parse(scope).expect("scope"),
            org_id: None,
            source: "t".into(),
            via: Via::Session(1),
        }
    }

    #[test]
    fn scope_is_prefix_at_fixed_length() {
        let a = actor("130110", &[Role::Official]);
        let own = RegionCode::parse("130110").expect("c");
        let child = RegionCode::parse("130110001").expect("c");
        let sibling = RegionCode::parse("130111").expect("c");
        let parent = RegionCode::parse("1301").expect("c");
        assert!(a.sees(&own) && a.sees(&child));
        assert!(!a.sees(&sibling) && !a.sees(&parent));
        assert_eq!(
            a.check_region(&sibling).map_err(|e| e.code),
            Err(ErrorCode::NotFound)
        );
        let (lo, hi) = a.scope_bounds();
        assert!(lo.as_str() <= "130110001" && "130110001" < hi.as_str());
        assert!(!(lo.as_str() <= "130111" && "130111" < hi.as_str()));
    }

    #[test]
    fn permissions_come_from_roles() {
        let a = actor("13", &[Role::CommunityWorker]);
        assert!(a.require(Permission::ReportsSubmit).is_ok());
        assert_eq!(
            a.require(Permission::UsersManage).map_err(|e| e.code),
            Err(ErrorCode::Forbidden)
        );
        assert!(Actor::operator().can(Permission::UsersManage));
    }
}
