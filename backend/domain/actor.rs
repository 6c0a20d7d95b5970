//! Who acts, and which customers they may see: the acting user as every
//! routine step receives it, whether the call came over HTTP, from the
//! command line or from the scheduler.

use super::Role;

/// One of the user's groups, with the area it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_id: String,
    pub area_id: String,
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// The acting user, loaded fresh on every request so a deactivated user or a
/// bumped token version takes effect at once.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub alarm_lead: bool,
    pub groups: Vec<Membership>,
    /// The login session the access token belongs to (none for the command line).
    pub session_id: Option<String>,
    pub ctx: RequestContext,
}

/// Which customers a user may see at all (`auth::permissions::customer_scope`
/// decides it from the role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerScope {
    /// Municipality-wide functions: system admin, billing, the alarm centre.
    All,
    /// Office roles see the customers of the areas their groups belong to.
    Areas(Vec<String>),
    /// Field roles see the customers their own groups serve.
    Groups(Vec<String>),
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
