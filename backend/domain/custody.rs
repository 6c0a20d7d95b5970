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

impl KeyMove {
    /// What the move does to a key, as "cannot be …" ends: "signed out".
    pub fn done_en(self) -> &'static str {
        match self {
            KeyMove::Receive => "received",
            KeyMove::SignOut => "signed out",
            KeyMove::SignIn => "signed in",
            KeyMove::ReturnToCustomer => "returned to the customer",
            KeyMove::ReportLost => "reported lost",
        }
    }

    /// The same in Swedish, as "kan inte …" ends: "kvitteras ut".
    pub fn done_sv(self) -> &'static str {
        match self {
            KeyMove::Receive => "tas emot",
            KeyMove::SignOut => "kvitteras ut",
            KeyMove::SignIn => "kvitteras in",
            KeyMove::ReturnToCustomer => "lämnas tillbaka till brukaren",
            KeyMove::ReportLost => "anmälas förlorad",
        }
    }
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

/// A key number (nyckelnummer) in its one canonical form, so the same tag
/// can never be two keys. Normalisation: trim; upper-case (`xn-1001` is
/// `XN-1001`); every run of spaces and dashes (`-`, `–`, `—`, `−`, no-break
/// space, …) becomes one `-`, none at either end (`XN 1001`, `xn – 1001` and
/// `XN-1001` are one key). `XN1001` stays apart from `XN-1001`: dropping
/// separators would make `1-23` and `12-3` one key. Letters, digits, `-`,
/// `/` and `.` only; at most 50 characters; no control characters (U+0000,
/// line breaks, tabs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyNumber(String);

pub const KEY_NUMBER_MAX: usize = 50;
pub const CABINET_MAX: usize = 100;
pub const HOOK_MAX: usize = 20;
pub const KEY_COUNT_MAX: i32 = 20;

/// Which key field a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    KeyNumber,
    Cabinet,
    Hook,
    Count,
}

impl KeyField {
    pub fn name(self) -> &'static str {
        match self {
            KeyField::KeyNumber => "key_number",
            KeyField::Cabinet => "cabinet",
            KeyField::Hook => "hook",
            KeyField::Count => "count",
        }
    }

    fn words(self) -> (&'static str, &'static str) {
        match self {
            KeyField::KeyNumber => ("the key number", "nyckelnumret"),
            KeyField::Cabinet => ("the cabinet", "skåpet"),
            KeyField::Hook => ("the hook", "kroken"),
            KeyField::Count => ("the number of keys", "antalet nycklar"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFieldProblem {
    Required,
    TooLong {
        max: usize,
        found: usize,
    },
    /// U+0000, a line break, a tab or another control character.
    ControlCharacter,
    /// A character a key number may not have.
    InvalidCharacter(char),
    OutOfRange {
        min: i32,
        max: i32,
    },
}

/// A key field that does not parse, with what to do about it in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFieldError {
    pub field: KeyField,
    pub problem: KeyFieldProblem,
}

impl KeyFieldError {
    fn new(field: KeyField, problem: KeyFieldProblem) -> Self {
        Self { field, problem }
    }

    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self.problem {
            KeyFieldProblem::Required => "required",
            KeyFieldProblem::TooLong { .. } => "too_long",
            KeyFieldProblem::ControlCharacter | KeyFieldProblem::InvalidCharacter(_) => {
                "invalid_character"
            }
            KeyFieldProblem::OutOfRange { .. } => "out_of_range",
        }
    }

    pub fn detail(&self) -> String {
        let (what, _) = self.field.words();
        match &self.problem {
            KeyFieldProblem::Required => format!("{what} is missing; fill it in"),
            KeyFieldProblem::TooLong { max, found } => {
                format!("{what} has {found} characters; shorten it to at most {max}")
            }
            KeyFieldProblem::ControlCharacter => format!(
                "{what} contains a line break, tab or other control character (such as U+0000); remove it"
            ),
            KeyFieldProblem::InvalidCharacter(c) => format!(
                "{what} contains '{c}'; use only letters, digits, '-', '/' and '.'"
            ),
            KeyFieldProblem::OutOfRange { min, max } => {
                format!("{what} must be a whole number from {min} to {max}")
            }
        }
    }

    pub fn detail_sv(&self) -> String {
        let (_, what) = self.field.words();
        match &self.problem {
            KeyFieldProblem::Required => format!("{what} saknas; fyll i det"),
            KeyFieldProblem::TooLong { max, found } => {
                format!("{what} har {found} tecken; korta det till högst {max}")
            }
            KeyFieldProblem::ControlCharacter => format!(
                "{what} innehåller en radbrytning, tabb eller annat styrtecken (som U+0000); ta bort det"
            ),
            KeyFieldProblem::InvalidCharacter(c) => format!(
                "{what} innehåller '{c}'; använd bara bokstäver, siffror, '-', '/' och '.'"
            ),
            KeyFieldProblem::OutOfRange { min, max } => {
                format!("{what} ska vara ett heltal från {min} till {max}")
            }
        }
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe63}' | '\u{ff0d}'
        )
}

/// Trimmed, with no control characters, within `max` characters.
fn plain_text(field: KeyField, input: &str, max: usize) -> Result<String, KeyFieldError> {
    let v = input.trim();
    if v.is_empty() {
        return Err(KeyFieldError::new(field, KeyFieldProblem::Required));
    }
    if v.chars().any(char::is_control) {
        return Err(KeyFieldError::new(field, KeyFieldProblem::ControlCharacter));
    }
    let found = v.chars().count();
    if found > max {
        return Err(KeyFieldError::new(
            field,
            KeyFieldProblem::TooLong { max, found },
        ));
    }
    Ok(v.to_string())
}

impl KeyNumber {
    pub fn parse(input: &str) -> Result<Self, KeyFieldError> {
        let field = KeyField::KeyNumber;
        let trimmed = input.trim();
        if trimmed.chars().any(char::is_control) {
            return Err(KeyFieldError::new(field, KeyFieldProblem::ControlCharacter));
        }
        let mut out = String::with_capacity(trimmed.len());
        let mut pending_separator = false;
        for c in trimmed.chars() {
            if is_separator(c) {
                pending_separator = !out.is_empty();
                continue;
            }
            if !(c.is_alphanumeric() || c == '/' || c == '.') {
                return Err(KeyFieldError::new(
                    field,
                    KeyFieldProblem::InvalidCharacter(c),
                ));
            }
            if pending_separator {
                out.push('-');
                pending_separator = false;
            }
            out.extend(c.to_uppercase());
        }
        if out.is_empty() {
            return Err(KeyFieldError::new(field, KeyFieldProblem::Required));
        }
        let found = out.chars().count();
        if found > KEY_NUMBER_MAX {
            return Err(KeyFieldError::new(
                field,
                KeyFieldProblem::TooLong {
                    max: KEY_NUMBER_MAX,
                    found,
                },
            ));
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a key hangs: cabinet and hook, trimmed, inner spaces collapsed, no
/// control characters, at most 100 and 20 characters; case kept (`Skåp Ö`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPosition {
    pub cabinet: String,
    pub hook: String,
    pub night_cabinet: bool,
}

impl KeyPosition {
    /// Both fields' problems, so one answer names all of them.
    pub fn parse(
        cabinet: &str,
        hook: &str,
        night_cabinet: bool,
    ) -> Result<Self, Vec<KeyFieldError>> {
        let collapse = |s: String| s.split_whitespace().collect::<Vec<_>>().join(" ");
        match (
            plain_text(KeyField::Cabinet, cabinet, CABINET_MAX).map(collapse),
            plain_text(KeyField::Hook, hook, HOOK_MAX).map(collapse),
        ) {
            (Ok(cabinet), Ok(hook)) => Ok(Self {
                cabinet,
                hook,
                night_cabinet,
            }),
            (c, h) => Err([c.err(), h.err()].into_iter().flatten().collect()),
        }
    }
}

/// How many physical keys a key number stands for: 1 to 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCount(i32);

impl KeyCount {
    pub fn new(n: i32) -> Result<Self, KeyFieldError> {
        if (1..=KEY_COUNT_MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(KeyFieldError::new(
                KeyField::Count,
                KeyFieldProblem::OutOfRange {
                    min: 1,
                    max: KEY_COUNT_MAX,
                },
            ))
        }
    }

    pub fn get(self) -> i32 {
        self.0
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

impl ItemMove {
    /// What the move does to an item, as "cannot be …" ends: "collected".
    pub fn done_en(self) -> &'static str {
        match self {
            ItemMove::Install => "installed",
            ItemMove::MarkToCollect => "marked to collect",
            ItemMove::Collect => "collected",
            ItemMove::ReportMissing => "reported missing",
            ItemMove::Restock => "put back in stock",
            ItemMove::Scrap => "scrapped",
        }
    }

    /// The same in Swedish, as "kan inte …" ends: "hämtas".
    pub fn done_sv(self) -> &'static str {
        match self {
            ItemMove::Install => "installeras",
            ItemMove::MarkToCollect => "märkas för hämtning",
            ItemMove::Collect => "hämtas",
            ItemMove::ReportMissing => "anmälas saknad",
            ItemMove::Restock => "läggas tillbaka i lager",
            ItemMove::Scrap => "kasseras",
        }
    }
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

// The words a person reads (CSV columns, printed lists); the API's values stay English.
impl KeyCustody {
    pub fn sv(self) -> &'static str {
        match self {
            KeyCustody::InCabinet => "i skåpet",
            KeyCustody::SignedOut => "utkvitterad",
            KeyCustody::Returned => "återlämnad till kunden",
            KeyCustody::Lost => "borttappad",
        }
    }
}

impl ItemState {
    pub fn sv(self) -> &'static str {
        match self {
            ItemState::InStock => "i lager",
            ItemState::AtCustomer => "hos kund",
            ItemState::ToCollect => "att hämta",
            ItemState::Collected => "hämtad",
            ItemState::Missing => "saknas",
            ItemState::Scrapped => "kasserad",
        }
    }
}

impl EquipmentKind {
    pub fn sv(self) -> &'static str {
        match self {
            EquipmentKind::AlarmUnit => "Larmenhet",
            EquipmentKind::AlarmButton => "Larmknapp/klocka",
            EquipmentKind::DigitalLock => "Låsvred",
            EquipmentKind::ReceiptProduct => "Kvittensprodukt",
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

#[derive(Debug, Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum KeyOutcome {
    /// Handed back to the customer.
    Returned,
    /// Kept, because other services go on (seed 003).
    Kept,
    /// The organisation held no keys.
    NoneHeld,
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

    #[test]
    fn key_numbers_have_one_canonical_form() {
        for same in [
            "XN-1001",
            "xn-1001",
            " Xn-1001 ",
            "XN 1001",
            "xn – 1001",
            "XN\u{a0}1001",
            "XN--1001",
            "-XN-1001-",
        ] {
            assert_eq!(
                KeyNumber::parse(same).unwrap().as_str(),
                "XN-1001",
                "{same:?}"
            );
        }
        assert_eq!(KeyNumber::parse("xn1001").unwrap().as_str(), "XN1001");
        assert_eq!(KeyNumber::parse("b/12.3").unwrap().as_str(), "B/12.3");
        assert_eq!(KeyNumber::parse("nyckel å").unwrap().as_str(), "NYCKEL-Å");
    }

    #[test]
    fn key_numbers_that_cannot_be_a_tag_are_refused() {
        let problem = |s: &str| KeyNumber::parse(s).unwrap_err().problem;
        assert_eq!(problem("   "), KeyFieldProblem::Required);
        assert_eq!(problem(" - "), KeyFieldProblem::Required);
        assert_eq!(problem("B\0-1"), KeyFieldProblem::ControlCharacter);
        assert_eq!(problem("B\n1"), KeyFieldProblem::ControlCharacter);
        assert_eq!(problem("B\t1"), KeyFieldProblem::ControlCharacter);
        assert_eq!(
            problem("B-1 (reserv)"),
            KeyFieldProblem::InvalidCharacter('(')
        );
        assert_eq!(
            problem(&"7".repeat(5000)),
            KeyFieldProblem::TooLong {
                max: 50,
                found: 5000
            }
        );
        let e = KeyNumber::parse("B\u{0}1").unwrap_err();
        assert_eq!(e.code(), "invalid_character");
        assert!(e.detail().contains("remove it") && e.detail_sv().contains("ta bort"));
    }

    #[test]
    fn key_positions_are_tidied_and_bounded() {
        let p = KeyPosition::parse("  Skåp   Ö ", " 14 ", true).unwrap();
        assert_eq!(
            (p.cabinet.as_str(), p.hook.as_str(), p.night_cabinet),
            ("Skåp Ö", "14", true)
        );
        let errs = KeyPosition::parse(&"x".repeat(4000), "1\n2", false).unwrap_err();
        assert_eq!(
            errs.iter().map(|e| (e.field, e.code())).collect::<Vec<_>>(),
            [
                (KeyField::Cabinet, "too_long"),
                (KeyField::Hook, "invalid_character")
            ]
        );
        assert_eq!(KeyCount::new(0).unwrap_err().code(), "out_of_range");
        assert_eq!(KeyCount::new(20).unwrap().get(), 20);
    }
}
