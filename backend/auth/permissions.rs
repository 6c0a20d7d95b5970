//! Who may do what: by role, and by the areas and groups that serve a customer.
//! Every access decision in the API goes through this module: handlers ask
//! [`allows`] (through [`Actor::require`]) by the [`Action`] they
//! perform, and never compare roles themselves.

use crate::domain::{Actor, CustomerScope, OrderEvent, Role};

/// Every operation of the API, by what it does. Several operations may share
/// a rule; each still asks by its own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    // Open to every role: the customer scope (or nothing) decides what each sees.
    /// Log in, refresh, log out, see oneself.
    UseOwnSession,
    /// The health and readiness probes (no caller at all).
    CheckHealth,
    /// The areas and groups, by name.
    ReadOrganisationNames,
    /// Customers, their decisions, executions, keys, orders and the records
    /// (not the photos) of their documents.
    ReadCustomers,
    /// The key register and one key.
    ReadKeys,
    /// The equipment catalogue and one item.
    ReadEquipmentItem,
    /// One's own messages.
    ReadOwnMessages,
    /// Write to colleagues and answer the threads one takes part in (the
    /// customer scope decides which customers a message may be about).
    Converse,
    /// The order lifecycle: states, events and which role may fire each.
    ReadLifecycle,

    /// Areas, groups, users and memberships.
    ManageOrganisation,
    ReadAuditLog,
    CreateCustomer,
    UpdateCustomer,
    /// See a customer's full personnummer (every reveal is audited).
    /// The alarms to register in, or deregister from, the alarm platform.
    ReadPlatformRegistrations,
    RevealPersonnummer,
    /// Grant a decision (beslut) on a customer's application.
    GrantDecision,
    EndDecision,
    /// Start night visibility for a customer (a coordinator's execution).
    StartNightVisibility,
    /// The billing start and stop events, JSON or CSV.
    ReadBilling,
    /// A step of an order's lifecycle.
    Order(OrderEvent),
    /// Add to an order's contact log.
    LogOrderContact,
    /// Register, sign out, sign in, return or report lost a key.
    HandleKeys,
    ImportKeyRegister,
    /// The equipment list, JSON or CSV.
    ListEquipment,
    ReadEquipmentReport,
    CreateEquipmentModel,
    CreateEquipmentItem,
    /// Hand a receipt product (not an alarm or a lock) out to a customer.
    HandOutReceiptProduct,
    RestockEquipment,
    ScrapEquipment,
    /// Collect an item from a customer.
    CollectEquipment,
    /// Link a mounted digital lock to its customer, or unlink it.
    LinkLock,
    UnlinkLock,
    /// The desk reports: deliveries, extensions, keys not received,
    /// keys out, not executed, to collect.
    ReadDeskReports,
    /// Photograph a signed paper and upload it, or mark it superseded.
    UploadDocument,
    /// See a signed paper: the display copy and the thumbnail (no metadata).
    ReadDocumentImage,
    /// Download the photo as received, the proof, with its EXIF (phone,
    /// time, GPS position of the customer's home).
    ReadDocumentOriginal,
}

/// The one table: whether a role may perform an action at all. Which
/// customers it may perform it on is [`customer_scope`]'s.
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    use OrderEvent as E;
    use Role::*;
    match action {
        UseOwnSession
        | CheckHealth
        | ReadOrganisationNames
        | ReadCustomers
        | ReadKeys
        | ReadEquipmentItem
        | ReadOwnMessages
        | Converse
        | ReadLifecycle => true,

        ManageOrganisation | ReadAuditLog | CreateEquipmentModel | LinkLock | UnlinkLock => {
            role == Admin
        }
        CreateCustomer => matches!(role, Admin | Assessor),
        UpdateCustomer => matches!(role, Admin | Assessor | Coordinator),
        RevealPersonnummer => {
            matches!(role, Admin | Assessor | Coordinator | Billing | AlarmCenter)
        }
        GrantDecision | EndDecision => role == Assessor,
        StartNightVisibility => role == Coordinator,
        ReadBilling => matches!(role, Admin | Billing),

        // Who uses it (domain.md): the order's steps.
        Order(E::Resubmit | E::Cancel) => role == Assessor,
        Order(E::Book | E::ReceiveKeys | E::Install | E::CollectEquipment | E::ReturnKeys) => {
            role == Installer
        }
        Order(E::Execute | E::End | E::OrderFromSupplier) => role == Coordinator,
        Order(E::ReturnToAssessor | E::Decline) | LogOrderContact => {
            matches!(role, Coordinator | Installer)
        }
        Order(E::CollectLockReceipt) => matches!(role, Installer | CareStaff),
        Order(E::RegisterInPlatform | E::DeregisterFromPlatform) => role == AlarmCenter,

        HandleKeys => matches!(role, Admin | Coordinator | Installer | CareStaff),
        ImportKeyRegister => matches!(role, Admin | Coordinator),

        ListEquipment | ReadEquipmentReport => {
            matches!(role, Admin | Coordinator | Installer | Billing)
        }
        CreateEquipmentItem | ScrapEquipment => matches!(role, Admin | Coordinator),
        RestockEquipment => matches!(role, Admin | Coordinator | Installer),
        HandOutReceiptProduct | CollectEquipment => {
            matches!(role, Coordinator | Installer | CareStaff)
        }

        ReadDeskReports => matches!(role, Admin | Assessor | Coordinator | Installer),
        ReadPlatformRegistrations => matches!(role, Admin | Coordinator | AlarmCenter),

        // Those who photograph the papers: the alarm team at the install, home
        // care fetching the låskvittens (seed 001), the coordinator.
        UploadDocument => matches!(role, Installer | CareStaff | Coordinator),
        // The paper's content is for those who act on it. Billing starts and
        // stops on dates it is told (seeds 000, 003) and the alarm centre
        // registers alarms from orders (seed 000): neither handles the signed
        // papers, and both see every customer, so an image right would open
        // every signed paper in the municipality to them.
        ReadDocumentImage => matches!(role, Admin | Assessor | Coordinator | Installer | CareStaff),
        // The proof, with where and when it was taken: the installer who took
        // it, the coordinator and the assessor who handle the case (a dispute
        // over keys or the ansvarsavtal), the system administrator (requests
        // for records). Home care reads the display copy: it needs what the
        // paper says, not the phone's position at the customer's door.
        ReadDocumentOriginal => matches!(role, Admin | Assessor | Coordinator | Installer),
    }
}

/// The roles [`allows`] lets perform an action, in [`Role::ALL`]'s order
/// (for a refusal that names them).
pub fn roles_allowed(action: Action) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| allows(*r, action))
        .collect()
}

/// A duty a user is given by another (not an action they perform): only some
/// roles can hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Larmansvarig, on the user's account.
    AlarmLead,
    /// A customer's ordinary assessor (ordinarie handläggare).
    OrdinaryAssessor,
    /// The installer an installation is booked with.
    BookedInstaller,
}

pub fn may_hold(role: Role, duty: Duty) -> bool {
    match duty {
        Duty::AlarmLead | Duty::OrdinaryAssessor => role == Role::Assessor,
        Duty::BookedInstaller => role == Role::Installer,
    }
}

/// Every operation of the API ("METHOD path", as in `tests/api/authz_matrix.tsv`)
/// and the action its handler asks. A unit test holds this and [`allows`]
/// against the role columns of that matrix, so the two cannot drift.
pub const OPERATIONS: &[(&str, Action)] = {
    use Action::*;
    use OrderEvent as E;
    &[
        ("GET /healthz", CheckHealth),
        ("GET /readyz", CheckHealth),
        ("POST /api/v1/auth/login", UseOwnSession),
        ("POST /api/v1/auth/logout", UseOwnSession),
        ("GET /api/v1/auth/me", UseOwnSession),
        ("POST /api/v1/auth/refresh", UseOwnSession),
        // Public: how to log in, and the sign-in through the identity provider.
        ("GET /api/v1/auth/methods", UseOwnSession),
        ("GET /api/v1/auth/oidc/start", UseOwnSession),
        ("GET /api/v1/auth/oidc/callback", UseOwnSession),
        ("POST /api/v1/auth/oidc/token", UseOwnSession),
        ("GET /api/v1/areas", ReadOrganisationNames),
        ("POST /api/v1/areas", ManageOrganisation),
        ("GET /api/v1/groups", ReadOrganisationNames),
        ("POST /api/v1/groups", ManageOrganisation),
        (
            "PUT /api/v1/groups/{group_id}/members/{user_id}",
            ManageOrganisation,
        ),
        (
            "DELETE /api/v1/groups/{group_id}/members/{user_id}",
            ManageOrganisation,
        ),
        ("GET /api/v1/users", ManageOrganisation),
        ("POST /api/v1/users", ManageOrganisation),
        ("GET /api/v1/users/{id}", ManageOrganisation),
        ("PATCH /api/v1/users/{id}", ManageOrganisation),
        ("POST /api/v1/users/{id}/password", ManageOrganisation),
        (
            "POST /api/v1/users/{id}/revoke-sessions",
            ManageOrganisation,
        ),
        ("PUT /api/v1/groups/{id}/mailbox", ManageOrganisation),
        ("PUT /api/v1/users/{id}/mail", ManageOrganisation),
        ("GET /api/v1/outbox", ManageOrganisation),
        ("POST /api/v1/outbox/{id}/replay", ManageOrganisation),
        ("GET /api/v1/webhooks", ManageOrganisation),
        ("POST /api/v1/webhooks", ManageOrganisation),
        ("DELETE /api/v1/webhooks/{id}", ManageOrganisation),
        ("GET /api/v1/audit", ReadAuditLog),
        ("GET /api/v1/reports/audit-follow-up", ReadAuditLog),
        ("GET /api/v1/customers", ReadCustomers),
        ("POST /api/v1/customers", CreateCustomer),
        ("GET /api/v1/customers/{id}", ReadCustomers),
        ("PATCH /api/v1/customers/{id}", UpdateCustomer),
        (
            "GET /api/v1/customers/{id}/personnummer",
            RevealPersonnummer,
        ),
        ("GET /api/v1/customers/{id}/decisions", ReadCustomers),
        ("POST /api/v1/customers/{id}/decisions", GrantDecision),
        ("POST /api/v1/decisions/{id}/end", EndDecision),
        ("GET /api/v1/customers/{id}/executions", ReadCustomers),
        (
            "POST /api/v1/customers/{id}/night-visibility",
            StartNightVisibility,
        ),
        ("GET /api/v1/billing/events", ReadBilling),
        ("GET /api/v1/billing/events.csv", ReadBilling),
        ("GET /api/v1/lifecycle", ReadLifecycle),
        ("GET /api/v1/orders", ReadCustomers),
        ("GET /api/v1/orders/{id}", ReadCustomers),
        ("GET /api/v1/orders/{id}/documents", ReadCustomers),
        ("POST /api/v1/orders/{id}/contacts", LogOrderContact),
        (
            "POST /api/v1/orders/{id}/return-to-assessor",
            Order(E::ReturnToAssessor),
        ),
        ("POST /api/v1/orders/{id}/resubmit", Order(E::Resubmit)),
        ("POST /api/v1/orders/{id}/book", Order(E::Book)),
        (
            "POST /api/v1/orders/{id}/receive-keys",
            Order(E::ReceiveKeys),
        ),
        ("POST /api/v1/orders/{id}/install", Order(E::Install)),
        ("POST /api/v1/orders/{id}/execute", Order(E::Execute)),
        (
            "POST /api/v1/orders/{id}/collect-equipment",
            Order(E::CollectEquipment),
        ),
        ("POST /api/v1/orders/{id}/return-keys", Order(E::ReturnKeys)),
        ("POST /api/v1/orders/{id}/end", Order(E::End)),
        ("POST /api/v1/orders/{id}/decline", Order(E::Decline)),
        ("POST /api/v1/orders/{id}/cancel", Order(E::Cancel)),
        (
            "POST /api/v1/orders/{id}/order-from-supplier",
            Order(E::OrderFromSupplier),
        ),
        (
            "POST /api/v1/orders/{id}/collect-lock-receipt",
            Order(E::CollectLockReceipt),
        ),
        (
            "POST /api/v1/orders/{id}/register-in-platform",
            Order(E::RegisterInPlatform),
        ),
        (
            "POST /api/v1/orders/{id}/deregister-from-platform",
            Order(E::DeregisterFromPlatform),
        ),
        ("GET /api/v1/customers/{id}/keys", ReadCustomers),
        ("GET /api/v1/keys", ReadKeys),
        ("GET /api/v1/keys.csv", ReadKeys),
        ("GET /api/v1/keys/{id}", ReadKeys),
        ("POST /api/v1/keys", HandleKeys),
        ("POST /api/v1/keys/{id}/sign-out", HandleKeys),
        ("POST /api/v1/keys/{id}/sign-in", HandleKeys),
        ("POST /api/v1/keys/{id}/return-to-customer", HandleKeys),
        ("POST /api/v1/keys/{id}/report-lost", HandleKeys),
        ("POST /api/v1/keys/{id}/receive-again", HandleKeys),
        ("POST /api/v1/import/key-register", ImportKeyRegister),
        ("GET /api/v1/equipment/models", ReadEquipmentItem),
        ("POST /api/v1/equipment/models", CreateEquipmentModel),
        ("GET /api/v1/equipment/items", ListEquipment),
        ("GET /api/v1/equipment/items.csv", ListEquipment),
        ("POST /api/v1/equipment/items", CreateEquipmentItem),
        ("GET /api/v1/equipment/items/{id}", ReadEquipmentItem),
        (
            "POST /api/v1/equipment/items/{id}/hand-out",
            HandOutReceiptProduct,
        ),
        (
            "POST /api/v1/equipment/items/{id}/restock",
            RestockEquipment,
        ),
        ("POST /api/v1/equipment/items/{id}/scrap", ScrapEquipment),
        (
            "POST /api/v1/equipment/items/{id}/collect",
            CollectEquipment,
        ),
        ("POST /api/v1/equipment/items/{id}/link", LinkLock),
        ("POST /api/v1/equipment/items/{id}/unlink", UnlinkLock),
        ("GET /api/v1/reports/equipment", ReadEquipmentReport),
        ("GET /api/v1/reports/deliveries", ReadDeskReports),
        ("GET /api/v1/reports/extensions", ReadDeskReports),
        ("GET /api/v1/reports/keys-not-received", ReadDeskReports),
        ("GET /api/v1/reports/keys-out", ReadDeskReports),
        ("GET /api/v1/reports/not-executed", ReadDeskReports),
        ("GET /api/v1/reports/to-collect", ReadDeskReports),
        (
            "GET /api/v1/reports/platform-registration",
            ReadPlatformRegistrations,
        ),
        ("GET /api/v1/customers/{id}/documents", ReadCustomers),
        ("GET /api/v1/documents/{id}", ReadCustomers),
        ("PUT /api/v1/documents/{id}", UploadDocument),
        ("POST /api/v1/documents/{id}/supersede", UploadDocument),
        ("GET /api/v1/documents/{id}/display", ReadDocumentImage),
        ("GET /api/v1/documents/{id}/thumbnail", ReadDocumentImage),
        ("GET /api/v1/documents/{id}/original", ReadDocumentOriginal),
        ("GET /api/v1/messages", ReadOwnMessages),
        ("GET /api/v1/messages/unread-count", ReadOwnMessages),
        ("POST /api/v1/messages/{id}/read", ReadOwnMessages),
        ("GET /api/v1/messages/addressees", Converse),
        ("POST /api/v1/messages", Converse),
        ("GET /api/v1/messages/threads", ReadOwnMessages),
        ("GET /api/v1/messages/threads/{id}", ReadOwnMessages),
        ("POST /api/v1/messages/threads/{id}/replies", Converse),
    ]
};

pub fn customer_scope(user: &Actor) -> CustomerScope {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Membership, RequestContext};

    fn user(role: Role, groups: &[(&str, &str)]) -> Actor {
        Actor {
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
            session_id: None,
            ctx: RequestContext::default(),
        }
    }

    #[test]
    fn only_admin_manages_the_organisation_and_reads_the_audit_log() {
        for role in Role::ALL {
            assert_eq!(
                allows(role, Action::ManageOrganisation),
                role == Role::Admin
            );
            assert_eq!(allows(role, Action::ReadAuditLog), role == Role::Admin);
        }
    }

    #[test]
    fn field_roles_never_reveal_personnummer() {
        assert!(!allows(Role::Installer, Action::RevealPersonnummer));
        assert!(!allows(Role::CareStaff, Action::RevealPersonnummer));
        assert!(allows(Role::Assessor, Action::RevealPersonnummer));
    }

    #[test]
    fn the_proof_with_its_gps_stays_with_those_who_handle_the_paper() {
        for role in Role::ALL {
            // Whoever may have the original may see the copy made from it.
            if allows(role, Action::ReadDocumentOriginal) {
                assert!(allows(role, Action::ReadDocumentImage), "{role}");
            }
        }
        for role in [Role::CareStaff, Role::Billing, Role::AlarmCenter] {
            assert!(!allows(role, Action::ReadDocumentOriginal), "{role}");
        }
        // The municipality-wide roles see no signed paper at all.
        for role in [Role::Billing, Role::AlarmCenter] {
            assert!(!allows(role, Action::ReadDocumentImage), "{role}");
        }
        assert!(allows(Role::Installer, Action::ReadDocumentOriginal));
        assert!(allows(Role::CareStaff, Action::ReadDocumentImage));
    }

    /// The matrix the API test walks, read for its role columns: a role with a
    /// 2xx in any scope may perform the operation's action; a role with a 403
    /// and no 2xx may not (a 404 alone says nothing of the role).
    #[test]
    fn the_table_agrees_with_the_authorization_matrix() {
        use std::collections::{BTreeMap, BTreeSet};
        let matrix = include_str!("../../tests/api/authz_matrix.tsv");
        let mut actions = BTreeMap::new();
        for (operation, action) in OPERATIONS {
            assert!(
                actions.insert(*operation, *action).is_none(),
                "{operation} is listed twice in OPERATIONS"
            );
        }
        let mut in_matrix = BTreeSet::new();
        let mut disagreements = Vec::new();
        for line in matrix
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cells: Vec<&str> = line.split('\t').collect();
            let [operation, role, statuses @ ..] = cells.as_slice() else {
                panic!("not a matrix row: {line}");
            };
            in_matrix.insert(*operation);
            let role: Role = role
                .parse()
                .unwrap_or_else(|_| panic!("no role in: {line}"));
            let Some(&action) = actions.get(operation) else {
                panic!("{operation} is in the matrix but not in OPERATIONS");
            };
            let success = statuses.iter().any(|s| s.starts_with('2'));
            let refused = statuses.contains(&"403");
            let expected = if success {
                true
            } else if refused {
                false
            } else {
                continue;
            };
            if allows(role, action) != expected {
                disagreements.push(format!(
                    "{operation} as {role}: the matrix says {}, allows({role}, {action:?}) {}",
                    statuses.join(" "),
                    !expected
                ));
            }
        }
        assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
        let unmatched: Vec<_> = actions.keys().filter(|o| !in_matrix.contains(*o)).collect();
        assert!(
            unmatched.is_empty(),
            "in OPERATIONS, not in the matrix: {unmatched:?}"
        );
    }

    #[test]
    fn every_order_step_is_someones_and_never_billings_and_the_alarm_centres_only_the_platforms() {
        for event in OrderEvent::ALL {
            let roles = roles_allowed(Action::Order(event));
            assert!(!roles.is_empty(), "{event:?}");
            assert!(!roles.contains(&Role::Billing), "{event:?}");
            assert_eq!(
                roles.contains(&Role::AlarmCenter),
                event.alarm_only(),
                "{event:?}"
            );
        }
        // Moved here with the table from domain/order.rs.
        let may = |event, role| allows(role, Action::Order(event));
        assert!(may(OrderEvent::Execute, Role::Coordinator));
        assert!(!may(OrderEvent::Execute, Role::Installer));
        assert!(may(OrderEvent::Install, Role::Installer));
        assert!(!may(OrderEvent::Install, Role::Admin));
        assert!(may(OrderEvent::Cancel, Role::Assessor));
        assert_eq!(
            roles_allowed(Action::Order(OrderEvent::Execute)),
            [Role::Coordinator]
        );
    }

    #[test]
    fn only_assessors_lead_alarms_and_only_installers_are_booked() {
        for role in Role::ALL {
            assert_eq!(may_hold(role, Duty::AlarmLead), role == Role::Assessor);
            assert_eq!(
                may_hold(role, Duty::OrdinaryAssessor),
                role == Role::Assessor
            );
            assert_eq!(
                may_hold(role, Duty::BookedInstaller),
                role == Role::Installer
            );
        }
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
