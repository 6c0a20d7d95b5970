//! The desk's reports: each gathers its rows from the customers the actor may
//! see and records the look in the audit log, in one transaction. None carries
//! a personnummer.

use crate::db::{self, audit, custody, customers, lifecycle, org, reports, Db};
use crate::domain::custody::{EquipmentKind, ItemState};
use crate::domain::followup::{keys_outstanding, one_month_after, three_months_after};
use crate::domain::{Actor, OrderState, Period, PeriodError};
use crate::error::AppError;
use chrono::{DateTime, NaiveDate, Utc};

/// Install orders still open `months` (1 or 3) after they were received, as of
/// `as_of`, oldest first (seed 004).
pub async fn not_executed(
    db: &Db,
    user: Actor,
    months: u32,
    as_of: NaiveDate,
) -> Result<Vec<reports::StalledOrder>, AppError> {
    let scope = user.scope();
    db.transaction(move |conn| {
        let found = reports::stalled_install_orders(
            conn,
            &scope,
            &OrderState::open_install_states()
                .into_iter()
                .map(OrderState::as_str)
                .collect::<Vec<_>>(),
            reports::received_before_for(as_of, months),
        )?;
        let rows = found
            .into_iter()
            .filter(|o| {
                let received = o.received_at.date();
                let due = if months == 3 {
                    three_months_after(received)
                } else {
                    one_month_after(received)
                };
                as_of >= due
            })
            .collect::<Vec<_>>();
        audit::record(
            conn,
            &user,
            audit::Entry::new("report.not_executed", "report", None),
        )?;
        Ok(rows)
    })
    .await
}

/// One customer on the pick-up list: where to go and what to fetch.
pub struct Pickup {
    pub area: String,
    pub customer_number: String,
    /// First and last name.
    pub name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub phone: Option<String>,
    /// Equipment to fetch: kind and serial.
    pub items: Vec<String>,
    /// The customer's keys the organisation still holds.
    pub key_numbers: Vec<String>,
    /// Where each of them is: number, cabinet, hook and custody.
    pub keys: Vec<PickupKey>,
    /// The day the service ends (the open uninstall order's end date).
    pub end_date: Option<NaiveDate>,
    /// How to get in (portkod, key safe…), for the team at the door.
    pub entry_notes: Option<String>,
}

/// A key of a pick-up row.
pub struct PickupKey {
    pub key_number: String,
    pub cabinet: String,
    pub hook: String,
    pub custody: crate::domain::custody::KeyCustody,
}

/// The pick-up list (seed 003): one row per customer with equipment to
/// collect, with the keys still held, sorted by area and address.
pub async fn to_collect(db: &Db, user: Actor) -> Result<Vec<Pickup>, AppError> {
    let scope = user.scope();
    db.transaction(move |conn| {
        let found = reports::to_collect(conn, &scope)?;
        let mut rows: Vec<Pickup> = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        for i in found {
            let item = format!("{} {}", i.kind, i.serial);
            if ids.last() == Some(&i.customer_id) {
                rows.last_mut().expect("a row per id").items.push(item);
                continue;
            }
            ids.push(i.customer_id);
            rows.push(Pickup {
                area: i.area,
                customer_number: i.customer_number,
                name: format!("{} {}", i.first_name, i.last_name),
                street: i.street,
                postal_code: i.postal_code,
                city: i.city,
                phone: i.phone,
                items: vec![item],
                key_numbers: Vec::new(),
                keys: Vec::new(),
                end_date: None,
                entry_notes: i.entry_notes,
            });
        }
        let held = reports::held_keys(conn, &ids)?;
        let ends = reports::uninstall_end_dates(conn, &ids)?;
        for (row, id) in rows.iter_mut().zip(&ids) {
            for (_, number, cabinet, hook, custody) in held.iter().filter(|k| &k.0 == id) {
                row.key_numbers.push(number.clone());
                row.keys.push(PickupKey {
                    key_number: number.clone(),
                    cabinet: cabinet.clone(),
                    hook: hook.clone(),
                    custody: *custody,
                });
            }
            row.end_date = ends.iter().find(|(c, _)| c == id).map(|(_, d)| *d);
        }
        audit::record_many(
            conn,
            &user,
            ids.iter().map(|id| {
                audit::Entry::new("report.to_collect", "customer", Some(id)).customer(id)
            }),
        )?;
        rows.sort_by(|a, b| (&a.area, &a.city, &a.street).cmp(&(&b.area, &b.city, &b.street)));
        Ok(rows)
    })
    .await
}

/// Whose accesses the log follow-up gathers.
pub enum FollowUpOf {
    /// Every user who opened this customer's record.
    Customer(String),
    /// Every customer this user opened.
    User(String),
}

/// One user's accesses to the customer, or the user's accesses to one customer.
pub struct Accesses {
    /// The username (for a customer's follow-up) or the customer number (for a user's).
    pub who_or_whom: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Reads of personal data.
    pub reads: usize,
    /// Changes.
    pub changes: usize,
    /// Attempts refused by the access rules.
    pub denied: usize,
}

/// The log follow-up (logguppföljning) from `from` to `to`, both days
/// included: the audit entries of a customer or a user, counted per user or
/// per customer.
pub async fn audit_follow_up(
    db: &Db,
    user: Actor,
    of: FollowUpOf,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Accesses>, AppError> {
    let by_customer = matches!(of, FollowUpOf::Customer(_));
    let (customer_id, user_id) = match of {
        FollowUpOf::Customer(id) => (Some(id), None),
        FollowUpOf::User(id) => (None, Some(id)),
    };
    let filter = audit::Filter {
        customer_id,
        user_id,
        from: Some(from.and_hms_opt(0, 0, 0).expect("midnight")),
        to: Some(
            (to + chrono::Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight"),
        ),
        limit: i64::from(i32::MAX),
        ..Default::default()
    };
    db.transaction(move |conn| {
        let entries = audit::query(conn, &filter)?;
        let mut groups: std::collections::BTreeMap<String, Accesses> = Default::default();
        let ids: Vec<String> = entries
            .iter()
            .filter_map(|e| e.customer_id.clone())
            .collect();
        let numbers = customers::numbers_of(conn, &ids)?;
        for e in entries.iter().rev() {
            let key = if by_customer {
                e.username.clone()
            } else {
                let Some(c) = &e.customer_id else { continue };
                numbers
                    .iter()
                    .find(|(id, _)| id == c)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| c.clone())
            };
            let at = e.at.and_utc();
            let row = groups.entry(key.clone()).or_insert(Accesses {
                who_or_whom: key,
                first_at: at,
                last_at: at,
                reads: 0,
                changes: 0,
                denied: 0,
            });
            row.last_at = at;
            if e.outcome == "denied" {
                row.denied += 1;
            } else if [
                ".read",
                ".list",
                ".reveal_personnummer",
                ".display",
                ".thumbnail",
                ".original",
            ]
            .iter()
            .any(|s| e.action.ends_with(s))
            {
                row.reads += 1;
            } else {
                row.changes += 1;
            }
        }
        audit::record(
            conn,
            &user,
            audit::Entry::new("report.audit_follow_up", "audit", None),
        )?;
        Ok(groups.into_values().collect::<Vec<_>>())
    })
    .await
}

/// One booked visit on the delivery list.
pub struct Visit {
    pub visit_date: NaiveDate,
    /// `HH:MM`, when booked to the minute.
    pub visit_time: Option<String>,
    pub installer: Option<String>,
    pub kind: String,
    pub service: String,
    pub customer_number: String,
    /// First and last name.
    pub name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub phone: Option<String>,
    pub key_position: Option<String>,
    pub entry_notes: Option<String>,
}

/// The delivery list: visits booked from `from` to `to`, by day, time and
/// street.
pub async fn deliveries(
    db: &Db,
    user: Actor,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Visit>, AppError> {
    let scope = user.scope();
    db.transaction(move |conn| {
        let found = reports::deliveries(conn, &scope, from, to)?;
        audit::record_many(
            conn,
            &user,
            found.iter().map(|d| {
                audit::Entry::new("report.deliveries", "customer", Some(&d.customer_id))
                    .customer(&d.customer_id)
            }),
        )?;
        let mut rows: Vec<Visit> = found
            .into_iter()
            .map(|d| Visit {
                visit_date: d.visit_date.unwrap_or(from),
                visit_time: d.visit_at.map(|t| t.format("%H:%M").to_string()),
                installer: d.installer,
                kind: d.kind,
                service: d.service,
                customer_number: d.customer_number,
                name: format!("{} {}", d.first_name, d.last_name),
                street: d.street,
                postal_code: d.postal_code,
                city: d.city,
                phone: d.phone,
                key_position: d.key_position,
                entry_notes: d.entry_notes,
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.visit_date, &a.visit_time, &a.street).cmp(&(b.visit_date, &b.visit_time, &b.street))
        });
        Ok(rows)
    })
    .await
}

/// An install order whose keys are overdue.
pub struct KeysLate {
    pub order: reports::StalledOrder,
    /// A month after the order: from this day the keys are overdue.
    pub due: NaiveDate,
}

/// Install orders whose keys have not come in a month after the order, as of
/// `as_of` (seed 004): the rule the follow-up messages the assessor by.
pub async fn keys_not_received(
    db: &Db,
    user: Actor,
    as_of: NaiveDate,
) -> Result<Vec<KeysLate>, AppError> {
    let scope = user.scope();
    let waiting: Vec<&'static str> = OrderState::open_install_states()
        .into_iter()
        .filter(|s| keys_outstanding(*s))
        .map(OrderState::as_str)
        .collect();
    db.transaction(move |conn| {
        let found = reports::stalled_install_orders(
            conn,
            &scope,
            &waiting,
            reports::received_before_for(as_of, 1),
        )?;
        let mut rows = Vec::new();
        for order in found {
            let due = one_month_after(order.received_at.date());
            if as_of < due {
                continue;
            }
            rows.push(KeysLate { order, due });
        }
        audit::record(
            conn,
            &user,
            audit::Entry::new("report.keys_not_received", "report", None),
        )?;
        Ok(rows)
    })
    .await
}

/// A key signed out longer than allowed.
pub struct KeyOut {
    pub key: reports::OverdueKey,
    /// Hours out so far.
    pub hours_out: i64,
}

/// Keys signed out more than `allowed_hours` ago and not back, longest out
/// first.
pub async fn keys_out(db: &Db, user: Actor, allowed_hours: i64) -> Result<Vec<KeyOut>, AppError> {
    let now = db::now();
    let before = now - chrono::Duration::hours(allowed_hours);
    let scope = user.scope();
    db.transaction(move |conn| {
        let found = reports::overdue_keys(conn, &scope, before)?;
        audit::record_many(
            conn,
            &user,
            found.iter().map(|k| {
                audit::Entry::new("report.keys_out", "key", Some(&k.key_id))
                    .customer(&k.customer_id)
            }),
        )?;
        Ok(found
            .into_iter()
            .map(|key| KeyOut {
                hours_out: (now - key.since).num_hours(),
                key,
            })
            .collect())
    })
    .await
}

/// How many items of one model are in each state.
pub struct ModelCount {
    pub kind: EquipmentKind,
    pub supplier: String,
    pub model: String,
    pub in_stock: i64,
    pub at_customer: i64,
    pub to_collect: i64,
    pub collected: i64,
    pub missing: i64,
    pub scrapped: i64,
}

/// The equipment report: every model's counts, and up to `limit` items in
/// `listed` states at customers the actor may see.
pub struct EquipmentReport {
    pub summary: Vec<ModelCount>,
    pub items: Vec<reports::ItemOut>,
}

/// Equipment in stock and out: the counts per model of the whole catalogue,
/// and the items in the `listed` states at the customers the actor may see.
pub async fn equipment(
    db: &Db,
    user: Actor,
    listed: Vec<ItemState>,
    limit: i64,
) -> Result<EquipmentReport, AppError> {
    let scope = user.scope();
    db.transaction(move |conn| {
        let counts = reports::equipment_counts(conn)?;
        let mut summary = Vec::new();
        // The catalogue is sorted by kind, supplier and model; every model gets a row, also an empty one.
        for m in custody::list_models(conn)? {
            let mut row = ModelCount {
                kind: m.kind,
                supplier: m.supplier,
                model: m.model,
                in_stock: 0,
                at_customer: 0,
                to_collect: 0,
                collected: 0,
                missing: 0,
                scrapped: 0,
            };
            for (_, item_state, n) in counts.iter().filter(|(id, _, _)| *id == m.id) {
                let slot = match item_state {
                    ItemState::InStock => &mut row.in_stock,
                    ItemState::AtCustomer => &mut row.at_customer,
                    ItemState::ToCollect => &mut row.to_collect,
                    ItemState::Collected => &mut row.collected,
                    ItemState::Missing => &mut row.missing,
                    ItemState::Scrapped => &mut row.scrapped,
                };
                *slot += n;
            }
            summary.push(row);
        }
        let listed: Vec<&str> = listed.iter().map(|s| s.as_str()).collect();
        let items = reports::items_out(conn, &scope, &listed, limit)?;
        let mut seen = std::collections::HashSet::new();
        audit::record_many(
            conn,
            &user,
            items
                .iter()
                .filter(|i| seen.insert(i.customer_id.as_str()))
                .map(|i| {
                    audit::Entry::new("report.equipment", "customer", Some(&i.customer_id))
                        .customer(&i.customer_id)
                }),
        )?;
        Ok(EquipmentReport { summary, items })
    })
    .await
}

/// An open extension order with the two periods it joins and how they join.
pub struct ExtensionCheck {
    pub order: lifecycle::OrderRow,
    pub customer_id: String,
    pub customer_number: String,
    /// The customer's area's name.
    pub area: String,
    /// The decision being extended.
    pub previous: Period,
    /// The extension.
    pub next: Period,
    /// Whether the extension follows without a gap or an overlap, checked now.
    pub check: Result<(), PeriodError>,
}

/// Open extension orders, oldest first, each with the check that the extension
/// follows the decision it extends (seed 003), redone now.
pub async fn extensions(db: &Db, user: Actor) -> Result<Vec<ExtensionCheck>, AppError> {
    let scope = user.scope();
    db.transaction(move |conn| {
        let orders = reports::open_extension_orders(conn, &scope)?;
        let areas = org::list_areas(conn)?;
        let mut rows = Vec::new();
        for o in orders {
            let Some(next) = lifecycle::find_decision(conn, &o.decision_id)? else {
                continue;
            };
            let Some(prev_id) = &next.follows_id else {
                continue;
            };
            let Some(prev) = lifecycle::find_decision(conn, prev_id)? else {
                continue;
            };
            let Some(c) = customers::find(conn, &o.customer_id)? else {
                continue;
            };
            let previous = Period {
                from: prev.valid_from,
                to: prev.valid_to,
            };
            let next = Period {
                from: next.valid_from,
                to: next.valid_to,
            };
            let check = previous.check_followed_by(&next);
            audit::record(
                conn,
                &user,
                audit::Entry::new("report.extensions", "customer", Some(&c.id)).customer(&c.id),
            )?;
            rows.push(ExtensionCheck {
                order: o,
                area: areas
                    .iter()
                    .find(|a| a.id == c.area_id)
                    .map(|a| a.name.clone())
                    .unwrap_or_default(),
                customer_id: c.id,
                customer_number: c.customer_number,
                previous,
                next,
                check,
            });
        }
        Ok(rows)
    })
    .await
}

/// Safety alarms whose record in the alarm platform is behind (seed 000
/// steps 3 and 12): installed but not registered, or cancelled/terminated
/// but not deregistered; the look audited.
pub async fn platform_registration(
    db: &Db,
    user: Actor,
) -> Result<Vec<reports::PlatformBehind>, AppError> {
    let scope = user.scope();
    db.transaction(move |conn| {
        let rows = reports::platform_behind(conn, &scope)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("report.platform_registration", "report", None),
        )?;
        Ok(rows)
    })
    .await
}
