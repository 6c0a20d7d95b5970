//! Who is told what at each transition (seeds 000, 003, 004), as rules a
//! municipality can reconfigure, and the text of each message.

use super::{GroupKind, Role};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::str::FromStr;

/// The topic of a message a person wrote (not a routine's notice).
pub const CONVERSATION: &str = "conversation";

/// The occasions on which the system sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// A new order: the alarm centre registers it (seed 000 step 3–4).
    Ordered,
    /// Installed: billing, night patrol, home care, alarm team (seed 003).
    Installed,
    /// The customer declined (seed 000 step 6).
    Declined,
    /// Returned to the assessor as incorrect (seed 003).
    ReturnedToAssessor,
    /// Equipment collected: billing, copy to the ordinary assessor (seed 004).
    EquipmentCollected,
    /// An order was cancelled: the alarm centre deregisters it (seed 000).
    Cancelled,
    /// The decision ended and the equipment is to be fetched (avbeställning):
    /// the alarm centre deregisters the alarm (seed 000 step 12), the alarm
    /// team collects (seed 004).
    Terminated,
    /// A digital lock is mounted: the system administrator links it, the
    /// provider is told (seed 002).
    LockMounted,
    /// A digital lock is taken down: unlinked by the system administrator,
    /// the provider told (seed 002).
    LockRemoved,
}

impl Topic {
    pub const ALL: [Topic; 9] = [
        Topic::Ordered,
        Topic::Installed,
        Topic::Declined,
        Topic::ReturnedToAssessor,
        Topic::EquipmentCollected,
        Topic::Cancelled,
        Topic::Terminated,
        Topic::LockMounted,
        Topic::LockRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Ordered => "ordered",
            Topic::Installed => "installed",
            Topic::Declined => "declined",
            Topic::ReturnedToAssessor => "returned_to_assessor",
            Topic::EquipmentCollected => "equipment_collected",
            Topic::Cancelled => "cancelled",
            Topic::Terminated => "terminated",
            Topic::LockMounted => "lock_mounted",
            Topic::LockRemoved => "lock_removed",
        }
    }
}

impl FromStr for Topic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Topic::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown message topic '{s}'"))
    }
}

/// One addressee of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// Everyone with this role, e.g. `role:billing`.
    Role(Role),
    /// The customer's group of this kind, e.g. `group:night_patrol`.
    CustomerGroup(GroupKind),
    /// `assessor:ordinary`: the customer's ordinary assessor.
    OrdinaryAssessor,
}

impl FromStr for Recipient {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("role", r)) => r.parse().map(Recipient::Role),
            Some(("group", g)) => g.parse().map(Recipient::CustomerGroup),
            Some(("assessor", "ordinary")) => Ok(Recipient::OrdinaryAssessor),
            _ => Err(format!(
                "unknown recipient '{s}': use role:<role>, group:<group kind> or assessor:ordinary"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRules(BTreeMap<Topic, Vec<Recipient>>);

impl Default for MessageRules {
    /// The seeds' lists.
    fn default() -> Self {
        use GroupKind::*;
        use Recipient::*;
        Self(BTreeMap::from([
            // The alarm centre registers it; the installers book the visit (seed 000 steps 3–4).
            (
                Topic::Ordered,
                vec![Role(super::Role::AlarmCenter), CustomerGroup(AlarmTeam)],
            ),
            (
                Topic::Installed,
                vec![
                    Role(super::Role::Billing),
                    CustomerGroup(NightPatrol),
                    CustomerGroup(HomeCare),
                    CustomerGroup(AlarmTeam),
                ],
            ),
            // The assessor, and the home-care provider is informed (seed 000 steps 5–6).
            (
                Topic::Declined,
                vec![OrdinaryAssessor, CustomerGroup(HomeCare)],
            ),
            (Topic::ReturnedToAssessor, vec![OrdinaryAssessor]),
            // Coordinators day and night end the execution (seed 003); billing
            // and a copy to the ordinary assessor (seed 004).
            (
                Topic::EquipmentCollected,
                vec![
                    Role(super::Role::Billing),
                    OrdinaryAssessor,
                    Role(super::Role::Coordinator),
                ],
            ),
            (Topic::Cancelled, vec![Role(super::Role::AlarmCenter)]),
            (
                Topic::Terminated,
                vec![Role(super::Role::AlarmCenter), CustomerGroup(AlarmTeam)],
            ),
            (
                Topic::LockMounted,
                vec![Role(super::Role::Admin), CustomerGroup(HomeCare)],
            ),
            (
                Topic::LockRemoved,
                vec![Role(super::Role::Admin), CustomerGroup(HomeCare)],
            ),
        ]))
    }
}

impl MessageRules {
    /// Replaces the recipients of the topics named, e.g. from the settings file.
    pub fn with_overrides(
        mut self,
        overrides: &BTreeMap<String, Vec<String>>,
    ) -> Result<Self, String> {
        for (topic, recipients) in overrides {
            let topic: Topic = topic.parse()?;
            let parsed = recipients
                .iter()
                .map(|r| r.parse())
                .collect::<Result<Vec<Recipient>, _>>()?;
            self.0.insert(topic, parsed);
        }
        Ok(self)
    }

    pub fn recipients(&self, topic: Topic) -> &[Recipient] {
        self.0.get(&topic).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A message's subject and body. They name the customer number, never the
/// personnummer or the name.
pub struct Text {
    pub subject: String,
    pub body: String,
}

pub fn installed(customer_number: &str, service_sv: &str, date: NaiveDate) -> Text {
    Text {
        subject: format!("{service_sv} installerat – {customer_number}"),
        body: format!(
            "{service_sv} installerades hos kund {customer_number} den {date}. Beställningen verkställs med detta datum."
        ),
    }
}

pub fn declined(customer_number: &str, service_sv: &str, reason: &str) -> Text {
    Text {
        subject: format!("Brukaren avböjer {service_sv} – {customer_number}"),
        body: format!("Kund {customer_number} vill inte ha insatsen {service_sv}. Orsak: {reason}"),
    }
}

pub fn returned(customer_number: &str, service_sv: &str, reason: &str) -> Text {
    Text {
        subject: format!("Felaktig beställning returnerad – {customer_number}"),
        body: format!("Beställningen av {service_sv} för kund {customer_number} är felaktig och har returnerats. Orsak: {reason}"),
    }
}

pub fn collected(
    customer_number: &str,
    service_sv: &str,
    date: NaiveDate,
    missing: &[String],
) -> Text {
    let missing = if missing.is_empty() {
        "Inget saknas.".to_string()
    } else {
        format!("Saknas: {}.", missing.join(", "))
    };
    Text {
        subject: format!("Utrustning hämtad – {customer_number}"),
        body: format!(
            "{service_sv} för kund {customer_number} är återlämnat/hämtat den {date}. {missing}"
        ),
    }
}

pub fn ordered(customer_number: &str, service_sv: &str, from: NaiveDate) -> Text {
    Text {
        subject: format!("Ny beställning: {service_sv} – {customer_number}"),
        body: format!(
            "Ny beställning av {service_sv} för kund {customer_number}, beviljad från {from}."
        ),
    }
}

pub fn cancelled(customer_number: &str, service_sv: &str, reason: &str) -> Text {
    Text {
        subject: format!("Beställning avbruten – {customer_number}"),
        body: format!(
            "Beställningen av {service_sv} för kund {customer_number} är avbruten. Orsak: {reason}"
        ),
    }
}

pub fn terminated(customer_number: &str, service_sv: &str, end_date: NaiveDate) -> Text {
    Text {
        subject: format!("Avbeställning: {service_sv} – {customer_number}"),
        body: format!(
            "Beslutet om {service_sv} för kund {customer_number} upphör {end_date}. Avregistrera larmet och hämta utrustningen; koordinatorn avslutar insatsen med detta datum."
        ),
    }
}

pub fn lock_mounted(customer_number: &str, date: NaiveDate) -> Text {
    Text {
        subject: format!("Digitalt lås monterat – {customer_number}"),
        body: format!(
            "Ett digitalt lås monterades hos kund {customer_number} den {date}. Koppla låset i låssystemet så att utföraren kan öppna."
        ),
    }
}

pub fn lock_removed(customer_number: &str, date: NaiveDate) -> Text {
    Text {
        subject: format!("Digitalt lås nedmonterat – {customer_number}"),
        body: format!(
            "Det digitala låset hos kund {customer_number} togs ner den {date}. Koppla bort låset i låssystemet."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_lists() {
        let rules = MessageRules::default();
        assert_eq!(
            rules.recipients(Topic::Installed),
            [
                Recipient::Role(Role::Billing),
                Recipient::CustomerGroup(GroupKind::NightPatrol),
                Recipient::CustomerGroup(GroupKind::HomeCare),
                Recipient::CustomerGroup(GroupKind::AlarmTeam)
            ]
        );
        assert_eq!(
            rules.recipients(Topic::EquipmentCollected),
            [
                Recipient::Role(Role::Billing),
                Recipient::OrdinaryAssessor,
                Recipient::Role(Role::Coordinator)
            ]
        );
        // Every topic reaches someone by default.
        for topic in Topic::ALL {
            assert!(!rules.recipients(topic).is_empty(), "{topic:?}");
        }
    }

    #[test]
    fn overrides_replace_a_topic_and_typos_are_refused() {
        let o = BTreeMap::from([(
            "declined".to_string(),
            vec!["group:reception_team".to_string()],
        )]);
        let rules = MessageRules::default().with_overrides(&o).unwrap();
        assert_eq!(
            rules.recipients(Topic::Declined),
            [Recipient::CustomerGroup(GroupKind::ReceptionTeam)]
        );
        let bad = BTreeMap::from([("declined".to_string(), vec!["grupp:x".to_string()])]);
        assert!(MessageRules::default().with_overrides(&bad).is_err());
        let bad_topic = BTreeMap::from([("installd".to_string(), vec![])]);
        assert!(MessageRules::default().with_overrides(&bad_topic).is_err());
    }

    #[test]
    fn texts_name_the_customer_number_and_date() {
        let t = installed("K-100001", "Trygghetslarm", "2026-03-04".parse().unwrap());
        assert!(t.body.contains("K-100001") && t.body.contains("2026-03-04"));
    }
}
