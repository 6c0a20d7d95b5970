//! Fictional demo data for `serve --demo`: two areas with their groups, one
//! user per role (password `demo`), 30 customers and equipment in stock
//! (alarm units TX-1001…, buttons WB-2001…, locks PH-3001…, receipt products KV-4001…).
//!
//! `serve --demo` then brings it to life ([`bring_to_life`], in `living`):
//! orders in every state, keys, equipment, documents, executions, billing
//! and messages, with dates relative to the day it is loaded.
//!
//! Personnummer use birth numbers 980–999, the series Skatteverket sets aside
//! for its published test personnummer, so none can belong to a real person.

use crate::auth::password;
use crate::auth::permissions::{allows, may_hold, Action, Duty};
use crate::db::{self, custody, customers, org, users, Db, DbConn};
use crate::domain::custody::{EquipmentKind, ItemState};
use crate::domain::{personnummer::check_digit, GroupKind, Personnummer, Role};
use crate::error::AppError;
use chrono::{Datelike, NaiveDate};
use diesel::Connection;

mod living;
pub use living::{bring_to_life, Alive};

pub const DEMO_PASSWORD: &str = "demo";

/// A demo user: username, display name, role, area index (if any), the kinds
/// of that area's groups they belong to, and the alarm-lead flag.
type DemoUser = (
    &'static str,
    &'static str,
    Role,
    Option<usize>,
    &'static [GroupKind],
    bool,
);

const USERS: &[DemoUser] = &[
    (
        "admin",
        "Sara Systemförvaltare",
        Role::Admin,
        None,
        &[],
        false,
    ),
    (
        "handlaggare",
        "Hanna Handläggare",
        Role::Assessor,
        Some(0),
        &[GroupKind::ReceptionTeam],
        true,
    ),
    (
        "koordinator",
        "Kalle Koordinator",
        Role::Coordinator,
        Some(0),
        &[GroupKind::HomeCare],
        false,
    ),
    (
        "installator",
        "Ivar Installatör",
        Role::Installer,
        Some(0),
        &[GroupKind::AlarmTeam],
        false,
    ),
    (
        "hemtjanst",
        "Hedda Hemtjänst",
        Role::CareStaff,
        Some(0),
        &[GroupKind::HomeCare, GroupKind::NightPatrol],
        false,
    ),
    (
        "avgift",
        "Alva Avgiftshandläggare",
        Role::Billing,
        None,
        &[],
        false,
    ),
    (
        "larmcentral",
        "Leo Larmcentral",
        Role::AlarmCenter,
        None,
        &[],
        false,
    ),
];

/// The demo users' usernames, in the order the banner lists them.
pub fn usernames() -> impl Iterator<Item = &'static str> {
    USERS.iter().map(|user| user.0)
}

const AREAS: &[(&str, &str)] = &[("Boo", "Saltsjö-Boo"), ("Sickla", "Nacka")];

const FIRST: &[&str] = &[
    "Astrid", "Birger", "Dagny", "Einar", "Gunnel", "Harald", "Ingrid", "Josef", "Karin",
    "Lennart", "Märta", "Nils", "Olga", "Per", "Ragnhild", "Sixten", "Tyra", "Ulf", "Vera", "Åke",
];
const LAST: &[&str] = &[
    "Andersson",
    "Björk",
    "Ceder",
    "Dahl",
    "Ek",
    "Fors",
    "Grahn",
    "Holm",
    "Lind",
    "Nyström",
    "Öberg",
    "Sjöberg",
    "Strand",
    "Wiklund",
    "Åström",
];
const STREETS: &[&str] = &[
    "Ekvägen",
    "Björkstigen",
    "Lönngatan",
    "Granbacken",
    "Sjövägen",
    "Tallvägen",
];

/// How many customers the base demo loads; the living layer's come after them.
pub const BASE_CUSTOMERS: usize = 30;

pub struct Loaded {
    pub users: Vec<(&'static str, Role)>,
    pub customers: usize,
    pub items: usize,
}

/// (kind, supplier, model, serial prefix, first number, how many) in stock.
const STOCK: &[(EquipmentKind, &str, &str, &str, usize, usize)] = &[
    (
        EquipmentKind::AlarmUnit,
        "Tunstall",
        "Lifeline Vi+",
        "TX",
        1001,
        40,
    ),
    (
        EquipmentKind::AlarmButton,
        "Tunstall",
        "MyAmie",
        "WB",
        2001,
        40,
    ),
    (
        EquipmentKind::DigitalLock,
        "Phoniro",
        "Phoniro Lock",
        "PH",
        3001,
        20,
    ),
    (
        EquipmentKind::ReceiptProduct,
        "Phoniro",
        "Kvittenstagg",
        "KV",
        4001,
        10,
    ),
];

fn load_equipment(conn: &mut DbConn, admin_id: &str) -> Result<usize, AppError> {
    let now = db::now();
    let mut n = 0;
    for (kind, supplier, model, prefix, first, count) in STOCK {
        let m = custody::ModelRow {
            id: db::new_id(),
            kind: *kind,
            supplier: supplier.to_string(),
            model: model.to_string(),
            created_at: now,
        };
        custody::insert_model(conn, &m)?;
        for i in 0..*count {
            let item = custody::ItemRow {
                id: db::new_id(),
                model_id: m.id.clone(),
                kind: m.kind,
                supplier: m.supplier.clone(),
                serial: format!("{prefix}-{}", first + i),
                state: ItemState::InStock,
                customer_id: None,
                linked_customer_id: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            custody::insert_item(conn, &item)?;
            custody::insert_item_move(
                conn,
                &custody::ItemMoveRow {
                    id: db::new_id(),
                    item_id: item.id,
                    seq: 1,
                    at: now,
                    user_id: admin_id.to_string(),
                    from_state: "new".into(),
                    to_state: ItemState::InStock.as_str().into(),
                    customer_id: None,
                    order_id: None,
                    note: Some("Demodata".into()),
                },
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// Loads the demo data if the database has no users; returns None otherwise.
pub fn load_if_empty(db: &Db) -> anyhow::Result<Option<Loaded>> {
    let mut pooled = db.get()?;
    let conn: &mut DbConn = &mut pooled;
    if users::count(conn)? > 0 {
        return Ok(None);
    }
    let loaded = conn
        .transaction(load)
        .map_err(|e: AppError| anyhow::anyhow!("loading demo data: {e:?}"))?;
    Ok(Some(loaded))
}

fn load(conn: &mut DbConn) -> Result<Loaded, AppError> {
    let now = db::now();
    let mut groups: Vec<Vec<(GroupKind, String)>> = Vec::new();
    let mut area_ids = Vec::new();
    for (name, _) in AREAS {
        let area = org::AreaRow {
            id: db::new_id(),
            name: name.to_string(),
            created_at: now,
        };
        org::insert_area(conn, &area)?;
        let mut mine = Vec::new();
        for (kind, label) in [
            (GroupKind::HomeCare, "hemtjänst"),
            (GroupKind::AlarmTeam, "larmgrupp"),
            (GroupKind::NightPatrol, "nattpatrull"),
            (GroupKind::ReceptionTeam, "mottagningsteam"),
        ] {
            let g = org::GroupRow {
                id: db::new_id(),
                area_id: area.id.clone(),
                name: format!("{name} {label}"),
                kind,
                created_at: now,
            };
            org::insert_group(conn, &g)?;
            mine.push((kind, g.id));
        }
        groups.push(mine);
        area_ids.push(area.id);
    }
    let group_of = |area: usize, kind: GroupKind| -> String {
        groups[area]
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, id)| id.clone())
            .expect("group exists")
    };

    // One hash for all: argon2 is slow on purpose, and these are demo users.
    let hash = password::hash(DEMO_PASSWORD)?;
    let mut assessor_id = None;
    let mut admin_id = String::new();
    for (username, display, role, area, kinds, lead) in USERS {
        let row = users::UserRow {
            id: db::new_id(),
            username: username.to_string(),
            display_name: display.to_string(),
            password_hash: hash.clone(),
            role: *role,
            alarm_lead: *lead,
            active: true,
            token_version: 0,
            version: 1,
            created_at: now,
            updated_at: now,
            external_id: None,
        };
        users::insert(conn, &row)?;
        if let Some(a) = area {
            for kind in *kinds {
                users::add_membership(conn, &group_of(*a, *kind), &row.id)?;
            }
        }
        // The demo customers' ordinary assessor, and who creates them.
        if may_hold(*role, Duty::OrdinaryAssessor) {
            assessor_id = Some(row.id.clone());
        }
        if allows(*role, Action::ManageOrganisation) {
            admin_id = row.id.clone();
        }
    }

    let count = BASE_CUSTOMERS;
    for i in 0..count {
        let area = if i < 20 { 0 } else { 1 };
        let (first, last) = (FIRST[i % FIRST.len()], LAST[(i * 7) % LAST.len()]);
        let pnr = demo_personnummer(i);
        let mut serving = vec![
            group_of(area, GroupKind::AlarmTeam),
            group_of(area, GroupKind::NightPatrol),
        ];
        // Every fifth customer is still with the reception team, not yet a home-care group.
        serving.push(group_of(
            area,
            if i % 5 == 4 {
                GroupKind::ReceptionTeam
            } else {
                GroupKind::HomeCare
            },
        ));
        let consent = i % 3 != 0;
        let row = customers::CustomerRow {
            id: db::new_id(),
            customer_number: customers::next_customer_number(conn)?,
            personnummer: pnr.canonical().to_string(),
            birth_date: pnr.birth_date(),
            first_name: first.to_string(),
            last_name: last.to_string(),
            search_name: customers::search_name(first, last),
            street: format!("{} {}", STREETS[i % STREETS.len()], 1 + (i * 3) % 40),
            postal_code: if area == 0 {
                "132 30".into()
            } else {
                "131 54".into()
            },
            city: AREAS[area].1.to_string(),
            phone: Some(format!("08-123 45 {:02}", i)),
            area_id: area_ids[area].clone(),
            ordinary_assessor_id: (area == 0).then(|| assessor_id.clone()).flatten(),
            key_position: (i % 4 != 3).then(|| format!("Skåp {}, krok {}", 1 + i / 10, 1 + i % 10)),
            entry_notes: (i % 6 == 0)
                .then(|| "Ring på och vänta, brukaren går långsamt.".to_string()),
            other_municipality: i == 7,
            consent_digital_lock: consent,
            consent_digital_lock_at: consent.then_some(now),
            consent_digital_lock_by: None,
            consent_staff_unlock: consent,
            consent_staff_unlock_at: consent.then_some(now),
            consent_staff_unlock_by: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        customers::insert(conn, &row, &serving)?;
    }
    let items = load_equipment(conn, &admin_id)?;
    Ok(Loaded {
        users: USERS.iter().map(|u| (u.0, u.2)).collect(),
        customers: count,
        items,
    })
}

/// Born 1928–1947, birth number 980–999, valid check digit.
pub fn demo_personnummer(i: usize) -> Personnummer {
    let date = NaiveDate::from_ymd_opt(
        1928 + (i % 20) as i32,
        1 + (i % 12) as u32,
        1 + ((i * 5) % 28) as u32,
    )
    .expect("valid demo date");
    let nine = format!(
        "{:02}{:02}{:02}{}",
        date.year() % 100,
        date.month(),
        date.day(),
        980 + i % 20
    );
    let full = format!("{}{}{}", date.year() / 100, nine, check_digit(&nine));
    Personnummer::parse(&full, NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"))
        .expect("demo number is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_numbers_are_valid_distinct_and_in_the_test_series() {
        let mut seen = std::collections::HashSet::new();
        // The base demo's 30 and the living layer's customers after them.
        for i in 0..90 {
            let p = demo_personnummer(i);
            let serial: u32 = p.canonical()[8..11].parse().unwrap();
            assert!((980..=999).contains(&serial), "{serial}");
            assert!(seen.insert(p.canonical().to_string()));
        }
    }
}
