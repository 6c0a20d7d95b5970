//! Roles and group kinds from the domain model.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// What a user does in the chain; decides which operations they may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// systemförvaltare
    Admin,
    /// biståndshandläggare
    Assessor,
    /// koordinator
    Coordinator,
    /// larmgrupp, larminstallatör, låsmontör
    Installer,
    /// hemtjänstpersonal, nattpatrull
    CareStaff,
    /// avgiftshandläggare
    Billing,
    /// jourhandläggare (Trygghetsjouren)
    AlarmCenter,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Assessor,
        Role::Coordinator,
        Role::Installer,
        Role::CareStaff,
        Role::Billing,
        Role::AlarmCenter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Assessor => "assessor",
            Role::Coordinator => "coordinator",
            Role::Installer => "installer",
            Role::CareStaff => "care_staff",
            Role::Billing => "billing",
            Role::AlarmCenter => "alarm_center",
        }
    }
}

impl Role {
    /// The role's name in Swedish, as people at the municipality say it.
    pub fn sv(self) -> &'static str {
        match self {
            Role::Admin => "Systemförvaltare",
            Role::Assessor => "Biståndshandläggare",
            Role::Coordinator => "Koordinator",
            Role::Installer => "Larminstallatör",
            Role::CareStaff => "Hemtjänstpersonal",
            Role::Billing => "Avgiftshandläggare",
            Role::AlarmCenter => "Jourhandläggare",
        }
    }

    /// Everyone with the role, as a message's addressee.
    pub fn sv_all(self) -> &'static str {
        match self {
            Role::Admin => "Alla systemförvaltare",
            Role::Assessor => "Alla biståndshandläggare",
            Role::Coordinator => "Alla koordinatorer",
            Role::Installer => "Alla larminstallatörer",
            Role::CareStaff => "All hemtjänstpersonal",
            Role::Billing => "Alla avgiftshandläggare",
            Role::AlarmCenter => "Alla jourhandläggare",
        }
    }

    /// A role by its code (`installer`) or its Swedish name (`Larminstallatör`), in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        Role::ALL.into_iter().find(|r| {
            r.as_str().eq_ignore_ascii_case(text) || r.sv().to_lowercase() == text.to_lowercase()
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role '{s}'"))
    }
}

/// The kinds of group an area has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// hemtjänstgrupp
    HomeCare,
    /// larmgrupp / larmpatrull
    AlarmTeam,
    /// nattpatrull
    NightPatrol,
    /// mottagningsteam
    ReceptionTeam,
}

impl GroupKind {
    pub const ALL: [GroupKind; 4] = [
        GroupKind::HomeCare,
        GroupKind::AlarmTeam,
        GroupKind::NightPatrol,
        GroupKind::ReceptionTeam,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::HomeCare => "home_care",
            GroupKind::AlarmTeam => "alarm_team",
            GroupKind::NightPatrol => "night_patrol",
            GroupKind::ReceptionTeam => "reception_team",
        }
    }
}

impl FromStr for GroupKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown group kind '{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip_and_match_serde() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn group_kind_names_round_trip_and_match_serde() {
        for kind in GroupKind::ALL {
            assert_eq!(kind.as_str().parse::<GroupKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
