//! Roles, permissions and the rule for who may grant which roles.
//!
//! This module owns the permission matrix, the single source of truth the service layer checks
//! (DESIGN principle 3) and that `docs/PERMISSIONS.md` documents; a unit test renders the
//! matrix from this code and fails if the document drifts.
//!
//! Separation of duties (三权分立, as required for graded protection of government systems):
//! the system administrator configures regions and organisations, the security administrator
//! unlocks accounts, resets second factors, revokes sessions and device credentials and sets
//! the security settings, and the auditor only reads the audit log. Each admin role is
//! exclusive (an account holding one holds nothing else) and none holds business data
//! permissions. No administrator creates, resets or grants any account through the
//! application: administrator accounts are made and reset only with the CLI on the server (the
//! operator), business accounts by officials within their scope ([`check_grant`]), so no
//! administrator can open an account and act as another duty or read personal data.
//!
//! Second factor ([`RoleSet::second_factor`]): TOTP at every login for the administrators and
//! for roles that can reveal ID numbers or export personal data (officials); a TOTP proof once
//! per device, then a revocable device credential, for the other roles; a deployment setting
//! may waive it only for roles that see no personal data.

use std::fmt;

/// An enum whose every value has a stable identifier and a Chinese label, declared from one
/// table: the enum, `ALL` (every value, in declaration order), `as_str`, `label_zh` and
/// `Display` (the identifier) are generated from it, so they cannot drift apart.
macro_rules! labelled_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $v:ident => $id:literal, $zh:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $v, )*
        }

        impl $name {
            /// Every value, in declaration order (the matrix order).
            pub const ALL: [$name; [$(stringify!($v)),*].len()] = [$($name::$v),*];

            /// Stable identifier, e.g. `"township_staff"`, `"persons.reveal_id"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$v => $id, )*
                }
            }

            /// Chinese label.
            pub fn label_zh(self) -> &'static str {
                match self {
                    $( $name::$v => $zh, )*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

labelled_enum! {
    /// A role an account can hold (admin roles first).
    pub enum Role {
        Sysadmin => "sysadmin", "系统管理员";
        Secadmin => "secadmin", "安全管理员";
        Auditor => "auditor", "审计管理员";
        Official => "official", "民政干部";
        TownshipStaff => "township_staff", "乡镇（街道）工作人员";
        CommunityWorker => "community_worker", "村（社区）工作人员";
        InstitutionReporter => "institution_reporter", "机构填报员";
        SocialWorker => "social_worker", "社会工作者";
        CharityFinance => "charity_finance", "慈善财务";
        Inspector => "inspector", "督导检查员";
        ChildrenDirector => "children_director", "儿童主任";
        ChildSupervisor => "child_supervisor", "儿童督导员";
        HotlineWorker => "hotline_worker", "热线接线员";
        ServiceStaff => "service_staff", "婚姻登记/殡葬服务窗口人员";
        /// The service account of a child deployment (issue 20): never signs in, never granted
        /// by a person; its events are applied through the ordinary services in its region.
        FederationNode => "federation_node", "下级部署节点（服务账号）";
    }
}

labelled_enum! {
    /// An action class the service layer checks. Region scope is checked separately.
    pub enum Permission {
        RegionsRead => "regions.read", "查看行政区划";
        /// Import region tables, create grids.
        RegionsManage => "regions.manage", "管理行政区划（导入、网格）";
        OrgsRead => "orgs.read", "查看组织机构";
        OrgsManage => "orgs.manage", "管理组织机构";
        UsersRead => "users.read", "查看用户";
        /// Create accounts, change org/region/roles, disable.
        UsersManage => "users.manage", "管理用户账号（开通、调整、停用）";
        /// Unlock, reset password, revoke sessions, password policy.
        SecurityManage => "security.manage", "安全管理（解锁、重置密码、会话、密码策略）";
        AuditRead => "audit.read", "查看审计日志";
        ReportsSubmit => "reports.submit", "填报";
        ReportsRead => "reports.read", "查看报表";
        /// Forms, locking.
        ReportsManage => "reports.manage", "管理报表（表单、锁定）";
        PersonsRead => "persons.read", "查看人员信息";
        PersonsWrite => "persons.write", "维护人员信息";
        /// See a full ID number (an audited action).
        PersonsRevealId => "persons.reveal_id", "查看完整身份证号";
        /// Cross-checks (数据比对): run them, read and resolve the conflicts found.
        CrosschecksManage => "crosschecks.manage", "数据比对（查看、处理冲突）";
        InspectionsManage => "inspections.manage", "督导检查";
        DonationsManage => "donations.manage", "管理慈善捐赠";
        // Donations (issue 18): reading the ledger of the region's charities, and confirming
        // a delivery or posting a need as a recipient.
        /// Read the donation ledger, needs and rule breaches of the charities in scope.
        DonationsRead => "donations.read", "查看慈善捐赠台账（本辖区）";
        /// As a recipient: post needs (需求) and confirm deliveries (签收).
        DonationsConfirm => "donations.confirm", "发布物资需求与签收";
        // Payments (发放, issue 16 part B): rolls, bank files, reconciliation, accounts.
        PaymentsRead => "payments.read", "查看发放名册";
        /// Generate monthly, supplementary, grant and price-subsidy rolls; record price indices.
        PaymentsGenerate => "payments.generate", "生成发放名册";
        /// Approve a roll (not one the same user generated).
        PaymentsApprove => "payments.approve", "审批发放名册";
        /// Export the bank file with full account numbers (audited).
        PaymentsExport => "payments.export", "导出银行代发文件（完整账号）";
        /// Import the bank's return file and reconcile a roll.
        PaymentsReconcile => "payments.reconcile", "导入银行回盘并对账";
        /// Enter and confirm beneficiaries' bank accounts (a change needs a second person).
        PaymentsAccounts => "payments.accounts", "维护收款账户";
        // Social assistance (issue 16): applications, standards, emergency measures.
        AssistanceRead => "assistance.read", "查看社会救助（申请、对象、标准）";
        /// Enter an application, verify it (核查), record e-authorisation and close relatives.
        AssistanceApply => "assistance.apply", "受理与核查救助申请";
        /// Township review (审核), publicity, aid-first grants.
        AssistanceReview => "assistance.review", "审核救助申请（乡镇）";
        /// County approval (审批) or rejection, suspension and exit.
        AssistanceApprove => "assistance.approve", "审批救助申请（县级）";
        /// Declare, change and end emergency periods (应急状态).
        AssistanceEmergency => "assistance.emergency", "宣布和结束应急状态";
        /// Set assistance standards (救助标准).
        AssistanceStandards => "assistance.standards", "设定救助标准";
        // Children without care and the hotlines (issue 17). What a holder may read of a case
        // or a call is narrowed further per record (docs/PRIVACY.md): counselling notes only
        // by their writer, the line's supervisor and the case's assignee.
        /// Children's cases in scope: see that they exist, read them (every view audited).
        ChildrenRead => "children.read", "查看困境儿童个案";
        /// Open child cases and leads, log contacts and visits, record needs.
        ChildrenManage => "children.manage", "办理困境儿童个案（发现、报告、跟踪）";
        /// Classify, place, assign the case worker, hand a case over between levels, close it.
        ChildrenSupervise => "children.supervise", "督导困境儿童个案（分类、安置、指派、移交、结案）";
        /// Answer a hotline: record calls, red flags and their mandatory reports, referrals.
        HotlineAnswer => "hotline.answer", "热线接听与记录";
        /// Run the lines: lines and shifts, open referrals, overdue follow-ups, reports.
        HotlineSupervise => "hotline.supervise", "热线督导（线路、班次、转介、回访、统计）";
        // Bookings at marriage registries and funeral homes, volunteers (issue 19).
        /// See bookable services, slots and bookings in scope.
        BookingsRead => "bookings.read", "查看预约（婚姻登记、殡葬服务）";
        /// Run services: opening hours, slots, resources, check-in, rebooking.
        BookingsManage => "bookings.manage", "管理预约服务（时段、资源、签到、改约）";
        /// Switch a region's registries or funeral homes into epidemic mode (caps, blocked dates).
        BookingsEmergency => "bookings.emergency", "宣布预约应急措施（限流、停办日）";
        /// Volunteers and social organisations: registration, tasks, hours.
        VolunteersManage => "volunteers.manage", "管理志愿者与社会组织任务";
    }
}

use Permission as P;

const SYSADMIN: &[Permission] = &[
    P::RegionsRead,
    P::RegionsManage,
    P::OrgsRead,
    P::OrgsManage,
    P::UsersRead,
];
const SECADMIN: &[Permission] = &[P::RegionsRead, P::OrgsRead, P::UsersRead, P::SecurityManage];
const AUDITOR: &[Permission] = &[P::RegionsRead, P::OrgsRead, P::UsersRead, P::AuditRead];
const OFFICIAL: &[Permission] = &[
    P::RegionsRead,
    P::RegionsManage,
    P::OrgsRead,
    P::OrgsManage,
    P::UsersRead,
    P::UsersManage,
    P::ReportsSubmit,
    P::ReportsRead,
    P::ReportsManage,
    P::PersonsRead,
    P::PersonsWrite,
    P::PersonsRevealId,
    P::CrosschecksManage,
    P::InspectionsManage,
    P::DonationsRead,
    P::DonationsConfirm,
    P::PaymentsRead,
    P::PaymentsGenerate,
    P::PaymentsApprove,
    P::PaymentsExport,
    P::PaymentsReconcile,
    P::PaymentsAccounts,
    P::AssistanceRead,
    P::AssistanceApply,
    P::AssistanceReview,
    P::AssistanceApprove,
    P::AssistanceEmergency,
    P::AssistanceStandards,
    P::ChildrenRead,
    P::ChildrenManage,
    P::ChildrenSupervise,
    P::HotlineAnswer,
    P::HotlineSupervise,
    P::BookingsRead,
    P::BookingsManage,
    P::BookingsEmergency,
    P::VolunteersManage,
];
const TOWNSHIP_STAFF: &[Permission] = &[
    P::RegionsRead,
    P::RegionsManage,
    P::OrgsRead,
    P::UsersRead,
    P::UsersManage,
    P::ReportsSubmit,
    P::ReportsRead,
    P::PersonsRead,
    P::PersonsWrite,
    P::CrosschecksManage,
    P::DonationsConfirm,
    P::PaymentsRead,
    P::PaymentsAccounts,
    P::AssistanceRead,
    P::AssistanceApply,
    P::AssistanceReview,
    P::ChildrenRead,
    P::ChildrenManage,
    P::ChildrenSupervise,
    P::VolunteersManage,
];
const COMMUNITY_WORKER: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::ReportsSubmit,
    P::ReportsRead,
    P::PersonsRead,
    P::PersonsWrite,
    P::DonationsConfirm,
    P::AssistanceRead,
    P::AssistanceApply,
    P::ChildrenRead,
    P::ChildrenManage,
    // Issue 19 item 7: a community posts volunteer tasks (entrance duty, deliveries) and
    // confirms the hours, within its village.
    P::VolunteersManage,
];
const INSTITUTION_REPORTER: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::ReportsSubmit,
    P::ReportsRead,
    P::DonationsConfirm,
];
const SOCIAL_WORKER: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::PersonsRead,
    P::PersonsWrite,
    P::ChildrenRead,
    P::ChildrenManage,
];
const CHARITY_FINANCE: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::DonationsManage,
    P::DonationsRead,
];
const INSPECTOR: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::ReportsRead,
    P::InspectionsManage,
];
/// 儿童主任: the village's (community's) children's director, who finds and follows children.
const CHILDREN_DIRECTOR: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::PersonsRead,
    P::ChildrenRead,
    P::ChildrenManage,
];
/// 儿童督导员: the township's child supervisor, who classifies, places and assigns.
const CHILD_SUPERVISOR: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::PersonsRead,
    P::ChildrenRead,
    P::ChildrenManage,
    P::ChildrenSupervise,
];
/// 热线接线员: answers a hotline; sees the calls of the lines in scope, not the registry.
const HOTLINE_WORKER: &[Permission] = &[P::RegionsRead, P::OrgsRead, P::HotlineAnswer];
/// 婚姻登记员 / 殡仪服务人员: the window staff of a registry or funeral home, who run its bookings
/// (couples' and families' names and ID numbers: personal data).
const SERVICE_STAFF: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::BookingsRead,
    P::BookingsManage,
];

/// 下级部署节点: what a child deployment's events may do at the parent (ADR 0015) — submit and
/// correct the reports of the units in its region and acknowledge their incidents (read regions,
/// organisations and the region's reports to name them and find the incident).
const FEDERATION_NODE: &[Permission] = &[
    P::RegionsRead,
    P::OrgsRead,
    P::ReportsSubmit,
    P::ReportsRead,
];

impl Role {
    /// Parse an identifier ([`Role::as_str`], ASCII case-insensitive, `-` accepted for `_`)
    /// or the Chinese label ([`Role::label_zh`]).
    pub fn parse(s: &str) -> Option<Role> {
        let t = s.trim();
        let ident = t.to_ascii_lowercase().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == ident || r.label_zh() == t)
    }

    /// One of the three separation-of-duties admin roles (三权分立).
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Sysadmin | Role::Secadmin | Role::Auditor)
    }

    /// A service account's role (a child deployment): created only with its node, never
    /// granted to a person, never signing in.
    pub fn is_service(self) -> bool {
        matches!(self, Role::FederationNode)
    }

    /// The permissions this role grants, in [`Permission::ALL`] order.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Sysadmin => SYSADMIN,
            Role::Secadmin => SECADMIN,
            Role::Auditor => AUDITOR,
            Role::Official => OFFICIAL,
            Role::TownshipStaff => TOWNSHIP_STAFF,
            Role::CommunityWorker => COMMUNITY_WORKER,
            Role::InstitutionReporter => INSTITUTION_REPORTER,
            Role::SocialWorker => SOCIAL_WORKER,
            Role::CharityFinance => CHARITY_FINANCE,
            Role::Inspector => INSPECTOR,
            Role::ChildrenDirector => CHILDREN_DIRECTOR,
            Role::ChildSupervisor => CHILD_SUPERVISOR,
            Role::HotlineWorker => HOTLINE_WORKER,
            Role::ServiceStaff => SERVICE_STAFF,
            Role::FederationNode => FEDERATION_NODE,
        }
    }

    /// Does this role grant `p`?
    pub fn has(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

impl Permission {
    /// Parse [`Permission::as_str`] back.
    pub fn parse(s: &str) -> Option<Permission> {
        let s = s.trim();
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The second factor an account must give at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A TOTP code at every login.
    EveryLogin,
    /// A TOTP code at the first login on a device, which then holds a device credential.
    PerDevice,
    /// As `PerDevice`, unless the deployment waives it for every role of the account (roles
    /// that see no personal data).
    PerDeviceWaivable,
}

/// Why a role list is invalid or may not be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("未知角色：{0}")]
    Unknown(String),
    #[error("至少需要一个角色")]
    Empty,
    #[error("系统管理员、安全管理员、审计管理员三类角色互斥，持有其一的账号不能再有其他角色")]
    AdminNotExclusive,
    #[error("无权授予角色：{}", .0.label_zh())]
    NotGrantable(Role),
}

/// The set of roles a user holds: sorted, deduplicated.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "Vec<Role>")]
pub struct RoleSet(Vec<Role>);

impl From<Vec<Role>> for RoleSet {
    fn from(v: Vec<Role>) -> RoleSet {
        RoleSet::new(v)
    }
}

impl RoleSet {
    /// Sort and deduplicate. Does not check admin exclusivity: see [`RoleSet::validate`].
    pub fn new(roles: impl IntoIterator<Item = Role>) -> RoleSet {
        let mut v: Vec<Role> = roles.into_iter().collect();
        v.sort();
        v.dedup();
        RoleSet(v)
    }

    /// The roles, sorted.
    pub fn roles(&self) -> &[Role] {
        &self.0
    }

    /// Does any role grant `p`?
    pub fn has(&self, p: Permission) -> bool {
        self.0.iter().any(|r| r.has(p))
    }

    /// Holds role `r`?
    pub fn has_role(&self, r: Role) -> bool {
        self.0.contains(&r)
    }

    /// Union of the roles' permissions, in [`Permission::ALL`] order.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.has(*p))
            .collect()
    }

    /// Holds one of the three administrator roles.
    pub fn is_admin(&self) -> bool {
        self.0.iter().any(|r| r.is_admin())
    }

    /// Holds a service account's role (never signs in).
    pub fn is_service(&self) -> bool {
        self.0.iter().any(|r| r.is_service())
    }

    /// Must give a TOTP code at every login: the administrators, and whoever can reveal ID
    /// numbers or export personal data (officials).
    pub fn needs_totp(&self) -> bool {
        self.is_admin() || self.has(P::PersonsRevealId) || self.0.contains(&Role::Official)
    }

    /// Sees personal data (people's records) in some form.
    pub fn sees_people(&self) -> bool {
        self.has(P::PersonsRead)
            || self.has(P::PersonsRevealId)
            || self.has(P::ChildrenRead)
            || self.has(P::HotlineAnswer)
            || self.has(P::BookingsRead)
    }

    /// Which second factor the account must give.
    pub fn second_factor(&self) -> SecondFactor {
        if self.needs_totp() {
            SecondFactor::EveryLogin
        } else if self.sees_people() {
            SecondFactor::PerDevice
        } else {
            SecondFactor::PerDeviceWaivable
        }
    }

    /// No roles at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Is this a valid set for an account: non-empty, and an admin role only alone.
    pub fn validate(&self) -> Result<(), RoleError> {
        if self.0.is_empty() {
            return Err(RoleError::Empty);
        }
        if self.0.len() > 1 && self.is_admin() {
            return Err(RoleError::AdminNotExclusive);
        }
        Ok(())
    }

    /// Parse a comma-separated list (ASCII or full-width commas, whitespace ignored, identifiers
    /// as accepted by [`Role::parse`]) and [`validate`](RoleSet::validate) it.
    pub fn parse_list(s: &str) -> Result<RoleSet, RoleError> {
        let mut roles = Vec::new();
        for part in s.split([',', '，']) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            roles.push(Role::parse(part).ok_or_else(|| RoleError::Unknown(part.to_owned()))?);
        }
        let set = RoleSet::new(roles);
        set.validate()?;
        Ok(set)
    }

    /// `"official,township_staff"` (stored form; [`RoleSet::parse_list`] reads it back).
    pub fn to_csv(&self) -> String {
        self.0
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Chinese labels joined with `、`.
    pub fn labels_zh(&self) -> String {
        self.0
            .iter()
            .map(|r| r.label_zh())
            .collect::<Vec<_>>()
            .join("、")
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        RoleSet::new(iter)
    }
}

/// May a holder of `grantor` give `target` to a new or changed account?
///
/// * `target` must be valid ([`RoleSet::validate`]: non-empty, admin roles exclusive).
/// * An administrator grants nothing: administrator accounts are made with the CLI on the
///   server (the operator, who is not bound by this rule), and no administrator may make or
///   change an account that holds another duty or a business role.
/// * Anyone else needs [`Permission::UsersManage`], may never grant an admin role, and may
///   grant a role only if it holds every permission of that role ("never grant more than you
///   hold"). The error names the first offending role.
pub fn check_grant(grantor: &RoleSet, target: &RoleSet) -> Result<(), RoleError> {
    target.validate()?;
    for &role in target.roles() {
        let ok = !grantor.is_admin()
            && grantor.has(P::UsersManage)
            && !role.is_admin()
            && !role.is_service()
            && role.permissions().iter().all(|p| grantor.has(*p));
        if !ok {
            return Err(RoleError::NotGrantable(role));
        }
    }
    Ok(())
}

/// The roles a holder of `grantor` may grant one by one (for pickers in the UI).
pub fn grantable_roles(grantor: &RoleSet) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| check_grant(grantor, &RoleSet::new([*r])).is_ok())
        .collect()
}

/// The permission matrix as a Markdown table: one row per permission, one column per role.
/// `docs/PERMISSIONS.md` carries exactly this text between `<!-- matrix:start -->` and
/// `<!-- matrix:end -->` (checked by a unit test).
pub fn permission_matrix_markdown() -> String {
    let mut out = String::from("| 权限 Permission |");
    for r in Role::ALL {
        out.push_str(&format!(" {} `{}` |", r.label_zh(), r.as_str()));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    out.push('\n');
    for p in Permission::ALL {
        out.push_str(&format!("| {} `{}` |", p.label_zh(), p.as_str()));
        for r in Role::ALL {
            out.push_str(if r.has(p) { " ✓ |" } else { "   |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(roles: &[Role]) -> RoleSet {
        RoleSet::new(roles.iter().copied())
    }

    #[test]
    fn identifiers_roundtrip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(Role::parse(r.label_zh()), Some(r));
            assert!(seen.insert(r.as_str()));
            // serde name agrees with as_str
            let json = serde_json_like(r);
            assert_eq!(json, r.as_str());
        }
        assert_eq!(Role::parse(" Township-Staff "), Some(Role::TownshipStaff));
        assert_eq!(Role::parse("root"), None);
        let mut seen = std::collections::HashSet::new();
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert!(seen.insert(p.as_str()));
            assert!(p.as_str().contains('.'));
        }
        assert_eq!(Permission::ALL.len(), 40);
        // ALL is in declaration (Ord) order.
        assert!(Role::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(Permission::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    /// Role's serde name without pulling in serde_json: use the Debug name converted to snake case.
    fn serde_json_like(r: Role) -> String {
        let mut out = String::new();
        for (i, c) in format!("{r:?}").chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn matrix_rules() {
        for r in Role::ALL {
            // Everybody can see the region tree and organisations.
            assert!(r.has(P::RegionsRead), "{r}");
            assert!(r.has(P::OrgsRead), "{r}");
            // permissions() lists are in ALL order, no duplicates.
            assert!(r.permissions().windows(2).all(|w| w[0] < w[1]), "{r}");
        }
        // Only the auditor reads the audit log, only the secadmin does security work.
        for r in Role::ALL {
            assert_eq!(r.has(P::AuditRead), r == Role::Auditor, "{r}");
            assert_eq!(r.has(P::SecurityManage), r == Role::Secadmin, "{r}");
            assert_eq!(r.has(P::PersonsRevealId), r == Role::Official, "{r}");
            assert_eq!(
                r.has(P::CrosschecksManage),
                matches!(r, Role::Official | Role::TownshipStaff),
                "{r}"
            );
        }
        // Admin roles hold no business data permission.
        // The business permissions: those from `reports.submit` on, in matrix order.
        let business = Permission::ALL
            .into_iter()
            .skip_while(|p| *p != P::ReportsSubmit);
        assert_eq!(business.clone().count(), 32);
        for r in Role::ALL.into_iter().filter(|r| r.is_admin()) {
            for p in business.clone() {
                assert!(!r.has(p), "{r} {p}");
            }
        }
        assert!(!Role::Sysadmin.has(P::SecurityManage));
        // Officials hold every business permission of the roles they open accounts for.
        assert!(Role::Official.has(P::InspectionsManage));
        assert!(Role::Official.has(P::ReportsSubmit));
        assert!(!Role::Official.has(P::DonationsManage));
        assert!(Role::TownshipStaff.has(P::RegionsManage));
        assert!(Role::Inspector.has(P::InspectionsManage));
        assert!(Role::CharityFinance.has(P::DonationsManage));
        // Only a charity keeps a ledger; officials read it; recipients confirm deliveries.
        for r in Role::ALL {
            assert_eq!(r.has(P::DonationsManage), r == Role::CharityFinance, "{r}");
            assert_eq!(
                r.has(P::BookingsEmergency),
                r == Role::Official,
                "{r}: only an official switches bookings into epidemic mode"
            );
        }
        assert!(Role::InstitutionReporter.has(P::DonationsConfirm));
        assert!(Role::ServiceStaff.has(P::BookingsManage));
        assert!(!Role::ServiceStaff.has(P::PersonsRead));
        assert_eq!(
            Role::ALL.iter().filter(|r| r.is_admin()).count(),
            3,
            "三权分立"
        );
    }

    #[test]
    fn role_sets() {
        let s = set(&[Role::TownshipStaff, Role::Official, Role::Official]);
        assert_eq!(s.roles(), &[Role::Official, Role::TownshipStaff]);
        assert!(s.has(P::RegionsManage));
        assert!(s.has(P::PersonsRevealId));
        assert!(!s.has(P::AuditRead));
        assert!(s.has_role(Role::Official));
        assert!(s.needs_totp());
        assert_eq!(s.to_csv(), "official,township_staff");
        assert_eq!(RoleSet::parse_list(&s.to_csv()), Ok(s.clone()));
        assert_eq!(
            s.permissions().len(),
            Permission::ALL
                .iter()
                .filter(|p| Role::Official.has(**p) || Role::TownshipStaff.has(**p))
                .count()
        );
        assert_eq!(s.labels_zh(), "民政干部、乡镇（街道）工作人员");
        assert!(RoleSet::default().is_empty());
        assert!(set(&[Role::Auditor]).needs_totp());
        assert_eq!(
            set(&[Role::CommunityWorker]).second_factor(),
            SecondFactor::PerDevice
        );
        assert_eq!(
            set(&[Role::Official]).second_factor(),
            SecondFactor::EveryLogin
        );
        assert_eq!(
            set(&[Role::Inspector]).second_factor(),
            SecondFactor::PerDeviceWaivable
        );

        for (list, parsed) in [
            (
                " official ， inspector,",
                Ok(set(&[Role::Official, Role::Inspector])),
            ),
            ("", Err(RoleError::Empty)),
            (" , ", Err(RoleError::Empty)),
            ("official,root", Err(RoleError::Unknown("root".to_owned()))),
            ("sysadmin,official", Err(RoleError::AdminNotExclusive)),
            ("secadmin,auditor", Err(RoleError::AdminNotExclusive)),
            ("sysadmin,sysadmin", Ok(set(&[Role::Sysadmin]))),
        ] {
            assert_eq!(RoleSet::parse_list(list), parsed, "{list:?}");
        }
        assert!(
            RoleError::NotGrantable(Role::Official)
                .to_string()
                .contains("民政干部")
        );
        let collected: RoleSet = [Role::Inspector, Role::Official].into_iter().collect();
        assert_eq!(collected.roles(), &[Role::Official, Role::Inspector]);
    }

    #[test]
    fn grant_rules() {
        let sys = set(&[Role::Sysadmin]);
        let sec = set(&[Role::Secadmin]);
        let aud = set(&[Role::Auditor]);
        let off = set(&[Role::Official]);
        let town = set(&[Role::TownshipStaff]);
        let comm = set(&[Role::CommunityWorker]);

        // No administrator grants anything (三权分立: admin accounts come from the CLI only).
        assert_eq!(
            check_grant(&sys, &set(&[Role::Secadmin, Role::Official])),
            Err(RoleError::AdminNotExclusive)
        );
        assert_eq!(
            check_grant(&sys, &RoleSet::default()),
            Err(RoleError::Empty)
        );
        for g in [&sys, &sec, &aud] {
            for r in Role::ALL {
                assert_eq!(
                    check_grant(g, &set(&[r])),
                    Err(RoleError::NotGrantable(r)),
                    "{r}"
                );
            }
        }

        // official: never an admin role, nothing it does not hold.
        assert_eq!(
            check_grant(&off, &set(&[Role::Secadmin])),
            Err(RoleError::NotGrantable(Role::Secadmin))
        );
        assert_eq!(
            check_grant(&off, &set(&[Role::Sysadmin])),
            Err(RoleError::NotGrantable(Role::Sysadmin))
        );
        assert_eq!(check_grant(&off, &off), Ok(()));
        assert_eq!(check_grant(&off, &set(&[Role::SocialWorker])), Ok(()));
        // An official opens the accounts of the levels below it.
        assert_eq!(check_grant(&off, &comm), Ok(()));
        assert_eq!(check_grant(&off, &town), Ok(()));
        assert_eq!(check_grant(&off, &set(&[Role::Inspector])), Ok(()));
        // ...but not the charity finance role: it does not hold donations.manage.
        assert_eq!(
            check_grant(&off, &set(&[Role::CharityFinance])),
            Err(RoleError::NotGrantable(Role::CharityFinance))
        );

        // township_staff cannot grant official: PersonsRevealId, OrgsManage, ReportsManage.
        assert_eq!(
            check_grant(&town, &off),
            Err(RoleError::NotGrantable(Role::Official))
        );
        assert_eq!(check_grant(&town, &comm), Ok(()));
        assert_eq!(
            check_grant(
                &town,
                &set(&[Role::InstitutionReporter, Role::SocialWorker])
            ),
            Ok(())
        );
        assert_eq!(
            check_grant(&town, &set(&[Role::CommunityWorker, Role::Official])),
            Err(RoleError::NotGrantable(Role::Official))
        );
        // Without UsersManage nothing is grantable.
        assert_eq!(
            check_grant(&comm, &set(&[Role::SocialWorker])),
            Err(RoleError::NotGrantable(Role::SocialWorker))
        );
        // Combined grantor holds the union.
        let both = set(&[Role::Official, Role::TownshipStaff]);
        assert_eq!(check_grant(&both, &comm), Ok(()));
        assert_eq!(check_grant(&both, &both), Ok(()));

        assert!(grantable_roles(&sys).is_empty());
        assert!(grantable_roles(&sec).is_empty());
        assert_eq!(
            grantable_roles(&town),
            vec![
                Role::TownshipStaff,
                Role::CommunityWorker,
                Role::InstitutionReporter,
                Role::SocialWorker,
                Role::ChildrenDirector,
                Role::ChildSupervisor,
            ]
        );
    }

    #[test]
    fn never_grant_more_than_held() {
        // Exhaustively over pairs of single roles and pairs of grantors.
        for a in Role::ALL {
            for b in Role::ALL {
                let grantor = set(&[a, b]);
                if grantor.validate().is_err() {
                    continue;
                }
                for t in Role::ALL {
                    if check_grant(&grantor, &set(&[t])).is_ok() {
                        assert!(!t.is_admin());
                        for p in t.permissions() {
                            assert!(grantor.has(*p), "{a}+{b} granted {t} with {p}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn docs_match_matrix() {
        let doc = include_str!("../../../docs/PERMISSIONS.md");
        let start = doc
            .find("<!-- matrix:start -->")
            .expect("start marker in docs/PERMISSIONS.md");
        let end = doc
            .find("<!-- matrix:end -->")
            .expect("end marker in docs/PERMISSIONS.md");
        let block = doc[start + "<!-- matrix:start -->".len()..end].trim();
        let rendered = permission_matrix_markdown();
        for line in rendered.lines() {
            assert!(
                block.lines().any(|l| l == line),
                "docs/PERMISSIONS.md lacks matrix row:\n{line}\n--- expected block ---\n{rendered}"
            );
        }
        assert_eq!(
            block,
            rendered.trim(),
            "docs/PERMISSIONS.md matrix differs from code; paste:\n{rendered}"
        );
    }
}
