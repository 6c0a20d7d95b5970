//! Custody of customers' keys and of equipment: which moves are possible from
//! where. Every move is recorded; the register is the chain of them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a key is, as the register knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyCustody {
    /// On its hook in the cabinet.
    InCabinet,
    /// Signed out to a group or a person.
    SignedOut,
    /// Handed back to the customer.
    Returned,
    /// Reported lost: an incident until found.
    Lost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyMove {
    /// Received from the customer into the cabinet (again, after a return).
    Receive,
    SignOut,
    /// Back on its hook (also: a lost key found).
    SignIn,
    ReturnToCustomer,
    ReportLost,
}

pub fn key_move(from: KeyCustody, mv: KeyMove) -> Option<KeyCustody> {
    use KeyCustody::*;
    use KeyMove::*;
    match (from, mv) {
        (Returned, Receive) => Some(InCabinet),
        (InCabinet, SignOut) => Some(SignedOut),
        (SignedOut | Lost, SignIn) => Some(InCabinet),
        (InCabinet, ReturnToCustomer) => Some(Returned),
        (InCabinet | SignedOut, ReportLost) => Some(Lost),
        _ => None,
    }
}

/// Where an item of equipment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    InStock,
    AtCustomer,
    /// The service ended: to be fetched from the customer.
    ToCollect,
    Collected,
    /// Not found at collection: an incident until found.
    Missing,
    Scrapped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemMove {
    Install,
    MarkToCollect,
    /// Picked up (also: a receipt product removed when the lock is mounted, or a missing item found).
    Collect,
    ReportMissing,
    Restock,
    Scrap,
}

pub fn item_move(from: ItemState, mv: ItemMove) -> Option<ItemState> {
    use ItemMove::*;
    use ItemState::*;
    match (from, mv) {
        (InStock, Install) => Some(AtCustomer),
        (AtCustomer, MarkToCollect) => Some(ToCollect),
        (AtCustomer | ToCollect | Missing, Collect) => Some(Collected),
        (ToCollect, ReportMissing) => Some(Missing),
        (Collected, Restock) => Some(InStock),
        (InStock | Collected | Missing, Scrap) => Some(Scrapped),
        _ => None,
    }
}

/// The kinds of equipment in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EquipmentKind {
    /// larmenhet / trygghetstelefon
    AlarmUnit,
    /// larmknapp / larmklocka
    AlarmButton,
    /// låsvred
    DigitalLock,
    /// kvittensprodukt: registers visits until a lock is mounted (seed 002)
    ReceiptProduct,
}

impl EquipmentKind {
    pub const ALL: [EquipmentKind; 4] = [
        EquipmentKind::AlarmUnit,
        EquipmentKind::AlarmButton,
        EquipmentKind::DigitalLock,
        EquipmentKind::ReceiptProduct,
    ];

    /// The service an item of this kind belongs to.
    pub fn service(self) -> super::Service {
        match self {
            EquipmentKind::AlarmUnit | EquipmentKind::AlarmButton => super::Service::SafetyAlarm,
            EquipmentKind::DigitalLock | EquipmentKind::ReceiptProduct => {
                super::Service::DigitalLock
            }
        }
    }
}

text_enum!(KeyCustody { InCabinet => "in_cabinet", SignedOut => "signed_out", Returned => "returned", Lost => "lost" });
text_enum!(KeyMove {
    Receive => "receive",
    SignOut => "sign_out",
    SignIn => "sign_in",
    ReturnToCustomer => "return_to_customer",
    ReportLost => "report_lost",
});
text_enum!(ItemState {
    InStock => "in_stock",
    AtCustomer => "at_customer",
    ToCollect => "to_collect",
    Collected => "collected",
    Missing => "missing",
    Scrapped => "scrapped",
});
text_enum!(ItemMove {
    Install => "install",
    MarkToCollect => "mark_to_collect",
    Collect => "collect",
    ReportMissing => "report_missing",
    Restock => "restock",
    Scrap => "scrap",
});
text_enum!(EquipmentKind {
    AlarmUnit => "alarm_unit",
    AlarmButton => "alarm_button",
    DigitalLock => "digital_lock",
    ReceiptProduct => "receipt_product",
});

/// Edit distance, to suggest the serials closest to one that was mistyped.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The `n` known serials closest to a mistyped one, closest first.
pub fn closest<'a>(known: &'a [String], wanted: &str, n: usize) -> Vec<&'a str> {
    let mut ranked: Vec<(usize, &str)> = known
        .iter()
        .map(|k| (edit_distance(k, wanted), k.as_str()))
        .collect();
    ranked.sort();
    ranked.into_iter().take(n).map(|(_, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_moves_from_every_custody() {
        use KeyCustody::*;
        use KeyMove::*;
        let all_c = [InCabinet, SignedOut, Returned, Lost];
        let all_m = [Receive, SignOut, SignIn, ReturnToCustomer, ReportLost];
        let allowed = [
            (Returned, Receive, InCabinet),
            (InCabinet, SignOut, SignedOut),
            (SignedOut, SignIn, InCabinet),
            (Lost, SignIn, InCabinet),
            (InCabinet, ReturnToCustomer, Returned),
            (InCabinet, ReportLost, Lost),
            (SignedOut, ReportLost, Lost),
        ];
        for c in all_c {
            for m in all_m {
                let expected = allowed
                    .iter()
                    .find(|(f, mv, _)| (*f, *mv) == (c, m))
                    .map(|(_, _, t)| *t);
                assert_eq!(key_move(c, m), expected, "{c:?} {m:?}");
            }
        }
    }

    #[test]
    fn item_moves_from_every_state() {
        use ItemMove::*;
        use ItemState::*;
        let states = [InStock, AtCustomer, ToCollect, Collected, Missing, Scrapped];
        let moves = [
            Install,
            MarkToCollect,
            Collect,
            ReportMissing,
            Restock,
            Scrap,
        ];
        let allowed = [
            (InStock, Install, AtCustomer),
            (AtCustomer, MarkToCollect, ToCollect),
            (AtCustomer, Collect, Collected),
            (ToCollect, Collect, Collected),
            (Missing, Collect, Collected),
            (ToCollect, ReportMissing, Missing),
            (Collected, Restock, InStock),
            (InStock, Scrap, Scrapped),
            (Collected, Scrap, Scrapped),
            (Missing, Scrap, Scrapped),
        ];
        for s in states {
            for m in moves {
                let expected = allowed
                    .iter()
                    .find(|(f, mv, _)| (*f, *mv) == (s, m))
                    .map(|(_, _, t)| *t);
                assert_eq!(item_move(s, m), expected, "{s:?} {m:?}");
            }
        }
    }

    #[test]
    fn edit_distance_finds_typos() {
        assert_eq!(edit_distance("TX-1001", "TX-1001"), 0);
        assert_eq!(edit_distance("TX-1001", "tx-1007"), 1);
        assert_eq!(edit_distance("TX-101", "TX-1001"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        let known = [
            "PH-3001".to_string(),
            "TX-1001".to_string(),
            "PH-3009".to_string(),
        ];
        assert_eq!(closest(&known, "PH-30O9", 2), ["PH-3009", "PH-3001"]);
    }

    #[test]
    fn text_forms_match_serde() {
        for k in EquipmentKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(
            serde_json::to_value(KeyCustody::SignedOut).unwrap(),
            KeyCustody::SignedOut.as_str()
        );
        assert_eq!(
            serde_json::to_value(ItemState::ToCollect).unwrap(),
            ItemState::ToCollect.as_str()
        );
    }
}
