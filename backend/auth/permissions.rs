//! Who may do what: by role, and by the areas and groups that serve a customer.
//! Every access decision in the API goes through this module.

use super::CurrentUser;
use crate::domain::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Areas, groups, users and memberships.
    ManageOrganisation,
    CreateCustomer,
    UpdateCustomer,
    /// See a customer's full personnummer (every reveal is audited).
    RevealPersonnummer,
    ReadAuditLog,
}

pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ManageOrganisation | ReadAuditLog => role == Admin,
        CreateCustomer => matches!(role, Admin | Assessor),
        UpdateCustomer => matches!(role, Admin | Assessor | Coordinator),
        RevealPersonnummer => {
            matches!(role, Admin | Assessor | Coordinator | Billing | AlarmCenter)
        }
    }
}

/// Which customers a user may see at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerScope {
    /// Municipality-wide functions: system admin, billing, the alarm centre.
    All,
    /// Office roles see the customers of the areas their groups belong to.
    Areas(Vec<String>),
    /// Field roles see the customers their own groups serve.
    Groups(Vec<String>),
}

pub fn customer_scope(user: &CurrentUser) -> CustomerScope {
    match user.role {
        Role::Admin | Role::Billing | Role::AlarmCenter => CustomerScope::All,
        Role::Assessor | Role::Coordinator => {
            let mut areas: Vec<String> = user.groups.iter().map(|g| g.area_id.clone()).collect();
            areas.sort();
            areas.dedup();
            CustomerScope::Areas(areas)
        }
        Role::Installer | Role::CareStaff => {
            CustomerScope::Groups(user.groups.iter().map(|g| g.group_id.clone()).collect())
        }
    }
}

impl CustomerScope {
    pub fn admits(&self, customer_area: &str, serving_groups: &[String]) -> bool {
        match self {
            CustomerScope::All => true,
            CustomerScope::Areas(areas) => areas.iter().any(|a| a == customer_area),
            CustomerScope::Groups(groups) => serving_groups.iter().any(|g| groups.contains(g)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Membership, RequestContext};

    fn user(role: Role, groups: &[(&str, &str)]) -> CurrentUser {
        CurrentUser {
            id: "u".into(),
            username: "u".into(),
            role,
            alarm_lead: false,
            groups: groups
                .iter()
                .map(|(g, a)| Membership {
                    group_id: g.to_string(),
                    area_id: a.to_string(),
                })
                .collect(),
            ctx: RequestContext::default(),
        }
    }

    #[test]
    fn only_admin_manages_the_organisation_and_reads_the_audit_log() {
        for role in Role::ALL {
            assert_eq!(
                allows(role, Permission::ManageOrganisation),
                role == Role::Admin
            );
            assert_eq!(allows(role, Permission::ReadAuditLog), role == Role::Admin);
        }
    }

    #[test]
    fn field_roles_never_reveal_personnummer() {
        assert!(!allows(Role::Installer, Permission::RevealPersonnummer));
        assert!(!allows(Role::CareStaff, Permission::RevealPersonnummer));
        assert!(allows(Role::Assessor, Permission::RevealPersonnummer));
    }

    #[test]
    fn office_roles_see_their_areas_and_field_roles_their_groups() {
        let assessor = user(Role::Assessor, &[("g-boo", "boo")]);
        assert!(customer_scope(&assessor).admits("boo", &[]));
        assert!(!customer_scope(&assessor).admits("sickla", &[]));

        let installer = user(Role::Installer, &[("alarm-boo", "boo")]);
        assert!(customer_scope(&installer).admits("sickla", &["alarm-boo".into()]));
        assert!(!customer_scope(&installer).admits("boo", &["home-boo".into()]));

        let nobody = user(Role::Coordinator, &[]);
        assert!(!customer_scope(&nobody).admits("boo", &[]));
        assert!(customer_scope(&user(Role::Billing, &[])).admits("any", &[]));
    }
}
