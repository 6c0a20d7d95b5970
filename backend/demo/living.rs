//! The living demo: on top of the base demo, a municipality in motion on any
//! day. Every order, key, item, document, execution, billing event and
//! message here is made by the application layer's routine steps, with the
//! demo user whose work it is as the actor, so the rules, notices, audit
//! entries and outbox rows are the real ones. Only what the routines stamp
//! with "now" (when an order came in, when a step was taken and what it
//! told, since when a key is out) is moved back afterwards, in [`backdate`],
//! so stalled orders look stalled and histories read in the order they
//! happened.
//!
//! The living layer has its own customers (after the base demo's 30, with
//! their own test-series personnummer) and its own stock (TX-5001…,
//! WB-6001…, PH-7001…, KV-8001…); the base demo's customers and stock stay
//! untouched for whoever relies on them.

use super::{demo_personnummer, AREAS, FIRST, LAST, STREETS};
use crate::app::{self, customers::NewCustomer, decisions::Grant, orders::Effect};
use crate::db::{self, custody, lifecycle, schema, DbConn};
use crate::domain::custody::{
    EquipmentKind, KeyCount, KeyMove, KeyNumber, KeyOutcome, KeyPosition,
};
use crate::domain::messages::MessageRules;
use crate::domain::order::ContactKind;
use crate::domain::{Actor, GroupKind, OrderEvent, Period, Role, Service};
use crate::error::AppError;
use crate::state::AppState;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use diesel::prelude::*;

/// What the living layer added, for the start banner.
#[derive(Debug, Default, Clone)]
pub struct Alive {
    pub customers: usize,
    pub orders: usize,
    pub keys: usize,
    pub documents: usize,
}

/// The people who do an area's work.
struct Staff {
    assessor: Actor,
    coordinator: Actor,
    installer: Actor,
}

/// A customer of the living layer.
#[derive(Clone)]
struct Customer {
    id: String,
    name: String,
    area: usize,
}

/// What the routines stamped "now" and the demo moves to the day it happened.
#[derive(Default)]
struct Stamps {
    decisions: Vec<(String, NaiveDateTime)>,
    orders: Vec<(String, NaiveDateTime)>,
    transitions: Vec<(String, NaiveDateTime)>,
    contacts: Vec<(String, NaiveDateTime)>,
    keys_out: Vec<(String, NaiveDateTime)>,
    /// The messages a step sent, by when the step ran (from, to), and its moment.
    messages: Vec<(NaiveDateTime, NaiveDateTime, NaiveDateTime)>,
    /// An extension whose start moved a week later, leaving a gap.
    gaps: Vec<String>,
}

struct Town<'a> {
    state: &'a AppState,
    rules: MessageRules,
    today: NaiveDate,
    admin: Actor,
    care: Actor,
    /// Registers the running alarms in the alarm platform (seed 000 step 3).
    alarm_centre: Actor,
    staff: [Staff; 2],
    /// Per area: the groups by kind.
    groups: Vec<Vec<(GroupKind, String)>>,
    area_ids: Vec<String>,
    /// The catalogue's model of each kind.
    models: Vec<(EquipmentKind, String)>,
    /// The next serial number of each kind.
    serials: [usize; 4],
    /// The first serial number of each kind not yet registered in stock.
    stocked: [usize; 4],
    next_customer: usize,
    next_key: usize,
    stamps: Stamps,
    alive: Alive,
}

/// How many papers the demo photographs.
const PHOTOS: usize = 12;

fn oops(e: impl std::fmt::Debug) -> AppError {
    AppError::internal(anyhow::anyhow!("demo: {e:?}"))
}

fn at(day: NaiveDate, hour: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("hour"))
}

fn time(h: u32, m: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(h, m, 0)
}

/// Brings the freshly loaded base demo to life as of `today`; call it once,
/// right after [`super::load_if_empty`] loaded the base.
pub async fn bring_to_life(state: &AppState, today: NaiveDate) -> Result<Alive, AppError> {
    let mut town = Town::open(state, today).await?;
    town.live().await?;
    let stamps = std::mem::take(&mut town.stamps);
    state
        .db
        .transaction(move |conn| backdate(conn, stamps))
        .await?;
    Ok(town.alive)
}

impl<'a> Town<'a> {
    async fn open(state: &'a AppState, today: NaiveDate) -> Result<Town<'a>, AppError> {
        let db = &state.db;
        // The audit log tells the demo's steps from the command line's.
        let load = |name: &'static str| async move {
            let mut actor = db
                .run(move |conn| Actor::load_by_username(conn, name))
                .await?
                .ok_or_else(|| oops(format!("demo user {name} missing")))?;
            actor.ctx.request_id = Some("demo".into());
            Ok::<_, AppError>(actor)
        };
        let admin = load("admin").await?;
        let care = load("hemtjanst").await?;
        let alarm_centre = load("larmcentral").await?;
        let boo = Staff {
            assessor: load("handlaggare").await?,
            coordinator: load("koordinator").await?,
            installer: load("installator").await?,
        };
        let areas = app::org::areas(db).await?;
        let mut area_ids = Vec::new();
        let mut groups = Vec::new();
        for (name, _) in AREAS {
            let area = areas
                .iter()
                .find(|a| a.name == *name)
                .ok_or_else(|| oops(format!("area {name} missing")))?;
            let of_area = app::org::groups(db, Some(area.id.clone())).await?;
            groups.push(
                of_area
                    .into_iter()
                    .map(|g| (g.kind, g.id))
                    .collect::<Vec<_>>(),
            );
            area_ids.push(area.id.clone());
        }
        let group = |area: usize, kind: GroupKind| -> String {
            groups[area]
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, id)| id.clone())
                .expect("the base demo made every group")
        };
        // Sickla's own colleagues: they sign in through the municipality's
        // identity provider, so they carry no password of the demo's.
        let mut sickla = Vec::new();
        for (username, display, role, kind) in [
            (
                "handlaggare.sickla",
                "Signe Sjölund",
                Role::Assessor,
                GroupKind::ReceptionTeam,
            ),
            (
                "koordinator.sickla",
                "Sune Sandell",
                Role::Coordinator,
                GroupKind::HomeCare,
            ),
            (
                "installator.sickla",
                "Sofia Stenlund",
                Role::Installer,
                GroupKind::AlarmTeam,
            ),
        ] {
            app::org::add_user(
                db,
                admin.clone(),
                app::org::UserDraft {
                    username: username.into(),
                    display_name: display.into(),
                    password: None,
                    role,
                    alarm_lead: false,
                    group_ids: vec![group(1, kind)],
                    external_id: Some(format!("{username}@nacka.demo")),
                },
            )
            .await?;
            sickla.push(load(username).await?);
        }
        let mut sickla = sickla.into_iter();
        let sickla = Staff {
            assessor: sickla.next().expect("three"),
            coordinator: sickla.next().expect("three"),
            installer: sickla.next().expect("three"),
        };
        let models = app::equipment::models(db)
            .await?
            .into_iter()
            .map(|m| (m.kind, m.id))
            .collect();
        Ok(Town {
            state,
            rules: state.settings.message_rules.clone(),
            today,
            admin,
            alarm_centre,
            care,
            staff: [boo, sickla],
            groups,
            area_ids,
            models,
            serials: [5001, 6001, 7001, 8001],
            stocked: [5001, 6001, 7001, 8001],
            next_customer: 30,
            next_key: 101,
            stamps: Stamps::default(),
            alive: Alive::default(),
        })
    }

    fn day(&self, offset: i64) -> NaiveDate {
        self.today + Duration::days(offset)
    }

    /// `hour` o'clock on `day`, but never later than now.
    fn moment(&self, day: NaiveDate, hour: u32) -> NaiveDateTime {
        at(day, hour).min(db::now())
    }

    /// `back` days ago, but not before the first of this month.
    fn this_month(&self, back: i64) -> NaiveDate {
        let first = self.today.with_day(1).expect("first");
        (self.today - Duration::days(back)).max(first)
    }

    /// The `day`th of last month.
    fn last_month(&self, day: u32) -> NaiveDate {
        let first = self.today.with_day(1).expect("first");
        let last = first - Duration::days(1);
        last.with_day(day.min(28)).expect("day")
    }

    fn group(&self, area: usize, kind: GroupKind) -> String {
        self.groups[area]
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, id)| id.clone())
            .expect("group")
    }

    async fn customer(
        &mut self,
        area: usize,
        other_municipality: bool,
    ) -> Result<Customer, AppError> {
        let i = self.next_customer;
        self.next_customer += 1;
        // Shifted from the base demo's picks so the living layer's names differ.
        let (first, last) = (
            FIRST[(i * 3 + 1) % FIRST.len()],
            LAST[(i * 4 + 2) % LAST.len()],
        );
        let reception = i % 5 == 4;
        let groups = vec![
            self.group(area, GroupKind::AlarmTeam),
            self.group(area, GroupKind::NightPatrol),
            self.group(
                area,
                if reception {
                    GroupKind::ReceptionTeam
                } else {
                    GroupKind::HomeCare
                },
            ),
        ];
        let assessor = self.staff[area].assessor.clone();
        let (row, _) = app::customers::register(
            &self.state.db,
            assessor.clone(),
            NewCustomer {
                personnummer: demo_personnummer(i),
                first_name: first.into(),
                last_name: last.into(),
                address: (
                    format!("{} {}", STREETS[(i + 2) % STREETS.len()], 2 + (i * 5) % 60),
                    if area == 0 { "132 35" } else { "131 52" }.into(),
                    AREAS[area].1.into(),
                ),
                phone: Some(format!("08-765 43 {:02}", i % 100)),
                area_id: self.area_ids[area].clone(),
                ordinary_assessor_id: Some(assessor.id.clone()),
                key_position: None,
                entry_notes: (i % 4 == 1)
                    .then(|| "Portkod 1234. Brukaren hör dåligt, ring på länge.".to_string()),
                other_municipality,
                consent_digital_lock: !other_municipality,
                consent_staff_unlock: !other_municipality,
                group_ids: groups,
            },
        )
        .await?;
        self.alive.customers += 1;
        Ok(Customer {
            id: row.id,
            name: format!("{first} {last}"),
            area,
        })
    }

    async fn grant(
        &mut self,
        c: &Customer,
        service: Service,
        from: NaiveDate,
        to: Option<NaiveDate>,
        follows: Option<String>,
    ) -> Result<(lifecycle::DecisionRow, lifecycle::OrderRow), AppError> {
        let sent = db::now();
        let (d, o) = app::decisions::grant(
            &self.state.db,
            self.rules.clone(),
            self.staff[c.area].assessor.clone(),
            c.id.clone(),
            Grant {
                service,
                period: Period::new(from, to).map_err(oops)?,
                follows_id: follows,
                team_group_id: None,
            },
        )
        .await?;
        // Decided and ordered a few days before the service starts, not today.
        let on = self.moment(from.min(self.today) - Duration::days(3), 9);
        self.stamps.decisions.push((d.id.clone(), on));
        self.stamps.orders.push((o.id.clone(), on));
        self.stamps.messages.push((sent, db::now(), on));
        self.alive.orders += 1;
        Ok((d, o))
    }

    /// Fires a step on the order as `who`, dated `on`.
    async fn step(
        &mut self,
        who: &Actor,
        o: &mut lifecycle::OrderRow,
        event: OrderEvent,
        effect: Effect,
        on: NaiveDate,
    ) -> Result<(), AppError> {
        let sent = db::now();
        let record = app::orders::fire(
            &self.state.db,
            self.rules.clone(),
            who.clone(),
            o.id.clone(),
            o.version,
            event,
            effect,
        )
        .await?;
        let when = self.moment(on, 10 + record.transitions.len() as u32 % 8);
        self.stamps.messages.push((sent, db::now(), when));
        if let Some(t) = record.transitions.last() {
            self.stamps.transitions.push((t.id.clone(), when));
        }
        if event == OrderEvent::Book {
            if let Some(c) = record.contacts.last() {
                self.stamps.contacts.push((c.id.clone(), when));
            }
        }
        *o = record.order;
        Ok(())
    }

    /// A step that carries a reason (return, decline, cancel), dated `on`.
    async fn with_reason(
        &mut self,
        who: &Actor,
        o: &mut lifecycle::OrderRow,
        event: OrderEvent,
        why: &str,
        on: NaiveDate,
    ) -> Result<(), AppError> {
        self.step(who, o, event, Effect::Reason(why.into()), on)
            .await
    }

    async fn book(
        &mut self,
        c: &Customer,
        o: &mut lifecycle::OrderRow,
        visit: NaiveDate,
        at_time: Option<NaiveTime>,
    ) -> Result<(), AppError> {
        let installer = self.staff[c.area].installer.clone();
        let on = (visit - Duration::days(2)).min(self.today);
        self.step(
            &installer,
            o,
            OrderEvent::Book,
            Effect::Book {
                date: visit,
                time: at_time,
                installer: None,
            },
            on,
        )
        .await
    }

    /// The customer's key into the cabinet, with the photographed key receipt.
    async fn receive_keys(
        &mut self,
        c: &Customer,
        o: &mut lifecycle::OrderRow,
        on: NaiveDate,
    ) -> Result<(), AppError> {
        let installer = self.staff[c.area].installer.clone();
        let receipt = self
            .document(&installer, c, Some(&o.id), "key_receipt", on)
            .await?;
        let n = self.next_key;
        self.next_key += 1;
        let cabinet = if c.area == 0 {
            "Boo skåp 2"
        } else {
            "Sickla skåp 1"
        };
        self.step(
            &installer,
            o,
            OrderEvent::ReceiveKeys,
            Effect::Keys {
                numbers: vec![KeyNumber::parse(&format!("NY-{n}")).map_err(oops)?],
                count: KeyCount::new(if n.is_multiple_of(3) { 2 } else { 1 }).map_err(oops)?,
                position: KeyPosition::parse(cabinet, &format!("{}", n % 40 + 1), false)
                    .map_err(oops)?,
                receipt_document_id: receipt,
            },
            on,
        )
        .await?;
        self.alive.keys += 1;
        Ok(())
    }

    /// The serial of the next item of `kind` in the living layer's stock.
    async fn take(&mut self, kind: EquipmentKind) -> Result<String, AppError> {
        let (slot, prefix, delivery) = match kind {
            EquipmentKind::AlarmUnit => (0, "TX", 20),
            EquipmentKind::AlarmButton => (1, "WB", 20),
            EquipmentKind::DigitalLock => (2, "PH", 4),
            EquipmentKind::ReceiptProduct => (3, "KV", 4),
        };
        if self.serials[slot] == self.stocked[slot] {
            // A delivery: the admin registers it in stock in one go, as the import does.
            let model = self
                .models
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, id)| id.clone())
                .ok_or_else(|| oops("no model of the kind"))?;
            let admin = self.admin.clone();
            let first = self.stocked[slot];
            self.state
                .db
                .transaction(move |conn| {
                    for n in first..first + delivery {
                        app::equipment::new_item(conn, &admin, &model, &format!("{prefix}-{n}"))?;
                    }
                    Ok(())
                })
                .await?;
            self.stocked[slot] += delivery;
        }
        let serial = format!("{prefix}-{}", self.serials[slot]);
        self.serials[slot] += 1;
        Ok(serial)
    }

    /// Installed on `date`, with the signed responsibility agreement photographed.
    async fn install(
        &mut self,
        c: &Customer,
        o: &mut lifecycle::OrderRow,
        date: NaiveDate,
        lock_receipt_left: bool,
    ) -> Result<(), AppError> {
        let serials = match o.service {
            Service::SafetyAlarm => vec![
                self.take(EquipmentKind::AlarmUnit).await?,
                self.take(EquipmentKind::AlarmButton).await?,
            ],
            Service::DigitalLock => vec![self.take(EquipmentKind::DigitalLock).await?],
        };
        let installer = self.staff[c.area].installer.clone();
        // The signed agreement for alarm and button; a lock's receipt is fetched later.
        if o.service == Service::SafetyAlarm {
            self.document(&installer, c, Some(&o.id), "responsibility_agreement", date)
                .await?;
        }
        self.step(
            &installer,
            o,
            OrderEvent::Install,
            Effect::Install {
                date,
                serials,
                lock_receipt_left,
            },
            date,
        )
        .await
    }

    async fn execute(
        &mut self,
        c: &Customer,
        o: &mut lifecycle::OrderRow,
        on: NaiveDate,
    ) -> Result<(), AppError> {
        let coordinator = self.staff[c.area].coordinator.clone();
        self.step(&coordinator, o, OrderEvent::Execute, Effect::Execute, on)
            .await
    }

    /// A customer whose alarm was installed on `installed` and executed,
    /// with a key in the cabinet.
    async fn running(
        &mut self,
        area: usize,
        installed: NaiveDate,
        to: Option<NaiveDate>,
        other_municipality: bool,
    ) -> Result<(Customer, lifecycle::DecisionRow), AppError> {
        self.running_with(area, installed, to, other_municipality, true)
            .await
    }

    async fn running_with(
        &mut self,
        area: usize,
        installed: NaiveDate,
        to: Option<NaiveDate>,
        other_municipality: bool,
        keys: bool,
    ) -> Result<(Customer, lifecycle::DecisionRow), AppError> {
        let c = self.customer(area, other_municipality).await?;
        let (d, mut o) = self
            .grant(
                &c,
                Service::SafetyAlarm,
                installed - Duration::days(10),
                to,
                None,
            )
            .await?;
        self.book(&c, &mut o, installed, time(10, 0)).await?;
        if keys {
            self.receive_keys(&c, &mut o, installed).await?;
        }
        self.install(&c, &mut o, installed, false).await?;
        let alarm_centre = self.alarm_centre.clone();
        let reference = format!("PNC-{}", 40_000 + self.stamps.orders.len());
        self.step(
            &alarm_centre,
            &mut o,
            OrderEvent::RegisterInPlatform,
            Effect::Register {
                reference,
                registered_on: installed,
            },
            installed,
        )
        .await?;
        self.execute(&c, &mut o, installed + Duration::days(2))
            .await?;
        Ok((c, d))
    }

    /// The assessor ends the decision on `end`: the uninstall order.
    async fn end_decision(
        &mut self,
        c: &Customer,
        d: &lifecycle::DecisionRow,
        end: NaiveDate,
    ) -> Result<lifecycle::OrderRow, AppError> {
        let sent = db::now();
        let (_, order, _) = app::decisions::end(
            &self.state.db,
            self.rules.clone(),
            self.staff[c.area].assessor.clone(),
            d.id.clone(),
            d.version,
            end,
        )
        .await?;
        let o = order.ok_or_else(|| oops("no uninstall order"))?;
        let on = self.moment(end - Duration::days(7), 11);
        self.stamps.orders.push((o.id.clone(), on));
        self.stamps.messages.push((sent, db::now(), on));
        self.alive.orders += 1;
        Ok(o)
    }

    async fn collect(
        &mut self,
        c: &Customer,
        o: &mut lifecycle::OrderRow,
        on: NaiveDate,
        button_missing: bool,
    ) -> Result<(), AppError> {
        let mut items = Vec::new();
        let mut missing = Vec::new();
        for item in self
            .state
            .db
            .run({
                let id = c.id.clone();
                move |conn| {
                    Ok(custody::list_items(
                        conn,
                        &custody::ItemFilter {
                            customer_id: Some(id),
                            state: Some("to_collect".into()),
                            limit: 100,
                            ..Default::default()
                        },
                    )?)
                }
            })
            .await?
        {
            if button_missing && item.kind == EquipmentKind::AlarmButton {
                missing.push(item.serial);
            } else {
                items.push(item.serial);
            }
        }
        let installer = self.staff[c.area].installer.clone();
        self.step(
            &installer,
            o,
            OrderEvent::CollectEquipment,
            Effect::Collect {
                date: on,
                items,
                missing,
            },
            on,
        )
        .await
    }

    async fn return_keys(
        &mut self,
        c: &Customer,
        o: &mut lifecycle::OrderRow,
        on: NaiveDate,
    ) -> Result<(), AppError> {
        let installer = self.staff[c.area].installer.clone();
        self.step(
            &installer,
            o,
            OrderEvent::ReturnKeys,
            Effect::ReturnKeys {
                outcome: KeyOutcome::Returned,
                note: Some("Nycklarna lämnade till brukarens dotter.".into()),
            },
            on,
        )
        .await
    }

    async fn end(
        &mut self,
        c: &Customer,
        o: &mut lifecycle::OrderRow,
        on: NaiveDate,
    ) -> Result<(), AppError> {
        let coordinator = self.staff[c.area].coordinator.clone();
        self.step(&coordinator, o, OrderEvent::End, Effect::End, on)
            .await
    }

    /// An ended alarm's uninstall order carried up to `stage` (`None`: as
    /// received; `Cancel`: withdrawn).
    async fn uninstall(
        &mut self,
        area: usize,
        installed: NaiveDate,
        end: NaiveDate,
        stage: Option<OrderEvent>,
    ) -> Result<(Customer, lifecycle::OrderRow), AppError> {
        let (c, d) = self.running(area, installed, None, false).await?;
        let mut o = self.end_decision(&c, &d, end).await?;
        if stage == Some(OrderEvent::Cancel) {
            let assessor = self.staff[area].assessor.clone();
            self.with_reason(
                &assessor,
                &mut o,
                OrderEvent::Cancel,
                "Avslutet återkallat: brukaren behåller larmet.",
                self.day(-1),
            )
            .await?;
            return Ok((c, o));
        }
        let steps = [
            OrderEvent::Book,
            OrderEvent::CollectEquipment,
            OrderEvent::ReturnKeys,
            OrderEvent::End,
        ];
        let reached = stage.and_then(|s| steps.iter().position(|e| *e == s));
        let done = |e: OrderEvent| {
            let at = steps.iter().position(|x| *x == e);
            matches!((at, reached), (Some(a), Some(r)) if a <= r)
        };
        if done(OrderEvent::Book) {
            let visit = if stage == Some(OrderEvent::Book) {
                self.day(1)
            } else {
                end - Duration::days(1)
            };
            self.book(&c, &mut o, visit, time(13, 0)).await?;
        }
        if done(OrderEvent::CollectEquipment) {
            // One pick-up in Boo finds no button: it is reported missing.
            let missing = area == 0 && stage == Some(OrderEvent::CollectEquipment);
            self.collect(&c, &mut o, end - Duration::days(1), missing)
                .await?;
        }
        if done(OrderEvent::ReturnKeys) {
            self.return_keys(&c, &mut o, end - Duration::days(1))
                .await?;
        }
        if done(OrderEvent::End) {
            self.end(&c, &mut o, end).await?;
        }
        Ok((c, o))
    }

    /// Photographs a signed paper: a small generated image of the card. Only
    /// the first few papers are photographed (the rest are "in the binder"):
    /// each photo costs its processing, and the start must stay quick.
    async fn document(
        &mut self,
        who: &Actor,
        c: &Customer,
        order_id: Option<&str>,
        kind: &'static str,
        signed_at: NaiveDate,
    ) -> Result<Option<String>, AppError> {
        if kind != "lock_receipt" && self.alive.documents >= PHOTOS {
            return Ok(None);
        }
        let id = db::new_id();
        let photos = app::documents::Photos {
            store: self.state.store.clone(),
            in_flight: self.state.uploads_in_flight.clone(),
            memory: self.state.media_memory.clone(),
            cores: self.state.media_slots.clone(),
        };
        app::documents::upload(
            &self.state.db,
            photos,
            who.clone(),
            id.clone(),
            app::documents::Paper {
                customer_id: c.id.clone(),
                order_id: order_id.map(str::to_string),
                kind,
                signed_by: c.name.clone(),
                signed_at,
            },
            "image/png",
            actix_web::web::Bytes::from(paper_photo(kind, self.alive.documents)),
        )
        .await?;
        self.alive.documents += 1;
        Ok(Some(id))
    }

    async fn key_of(&self, c: &Customer) -> Result<custody::KeyRow, AppError> {
        let id = c.id.clone();
        self.state
            .db
            .run(move |conn| Ok(custody::keys_of_customer(conn, &id)?))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| oops("no key"))
    }

    async fn move_key(
        &mut self,
        who: &Actor,
        c: &Customer,
        mv: KeyMove,
        to_group: Option<String>,
        note: Option<&str>,
    ) -> Result<custody::KeyRow, AppError> {
        let k = self.key_of(c).await?;
        let mut change = app::keys::KeyChange::of(mv);
        change.to_group = to_group;
        change.note = note.map(str::to_string);
        let record =
            app::keys::move_visible(&self.state.db, who.clone(), k.id.clone(), k.version, change)
                .await?;
        Ok(record.key)
    }

    /// The municipality, story by story, in order of what a newcomer sees first.
    async fn live(&mut self) -> Result<(), AppError> {
        let today = self.today;
        for area in [0, 1] {
            self.installers_week(area).await?;
            self.coordinators_work(area).await?;
            self.stalled(area).await?;
        }
        self.keys_and_locks().await?;
        self.extensions().await?;
        self.closed_orders().await?;
        // Billing: alarms started last month and this month, and stopped.
        for area in [0, 1] {
            self.running(area, self.last_month(4 + area as u32 * 7), None, false)
                .await?;
            self.running(area, self.this_month(2 + area as i64), None, false)
                .await?;
        }
        self.uninstall(
            0,
            self.last_month(1) - Duration::days(200),
            self.last_month(20),
            Some(OrderEvent::End),
        )
        .await?;
        self.uninstall(
            1,
            today - Duration::days(300),
            self.this_month(1),
            Some(OrderEvent::End),
        )
        .await?;
        // A customer whose case comes from another municipality: billed on its own line.
        self.running(0, self.this_month(4), None, true).await?;
        Ok(())
    }

    /// The installer's week: new orders to book, visits today and in the coming days.
    async fn installers_week(&mut self, area: usize) -> Result<(), AppError> {
        // New orders, not booked yet; one with a call nobody answered.
        for (n, ago) in [(0, 1), (1, 4)] {
            let c = self.customer(area, false).await?;
            let (_, o) = self
                .grant(&c, Service::SafetyAlarm, self.day(-ago + 3), None, None)
                .await?;
            if n == 1 {
                let installer = self.staff[area].installer.clone();
                app::orders::log_contact(
                    &self.state.db,
                    installer,
                    o.id.clone(),
                    ContactKind::NoAnswer,
                    Some("Ringde 09.10, inget svar. Försöker igen i eftermiddag.".into()),
                )
                .await?;
            }
        }
        // Visits booked: today (two), tomorrow, in three days; one already has the keys.
        for (offset, hour, keys) in [(0, 9, false), (0, 13, true), (1, 10, false), (3, 14, false)] {
            let c = self.customer(area, false).await?;
            let (_, mut o) = self
                .grant(&c, Service::SafetyAlarm, self.day(-6), None, None)
                .await?;
            self.book(&c, &mut o, self.day(offset), time(hour, 30))
                .await?;
            if keys {
                self.receive_keys(&c, &mut o, self.day(-1)).await?;
            }
        }
        // An equipment pick-up booked for tomorrow.
        self.uninstall(area, self.day(-400), self.day(2), Some(OrderEvent::Book))
            .await?;
        Ok(())
    }

    /// The coordinator's lists: installed to execute, uninstalls to end.
    async fn coordinators_work(&mut self, area: usize) -> Result<(), AppError> {
        for back in [1, 3] {
            let c = self.customer(area, false).await?;
            let installed = self.day(-back);
            let (_, mut o) = self
                .grant(
                    &c,
                    Service::SafetyAlarm,
                    installed - Duration::days(9),
                    None,
                    None,
                )
                .await?;
            self.book(&c, &mut o, installed, time(9, 0)).await?;
            self.receive_keys(&c, &mut o, installed).await?;
            self.install(&c, &mut o, installed, false).await?;
        }
        // Uninstalls at every step: to collect, collected (one item missing), ready to end.
        self.uninstall(area, self.day(-500), self.day(5), None)
            .await?;
        self.uninstall(area, self.day(-520), self.day(8), Some(OrderEvent::Cancel))
            .await?;
        self.uninstall(
            area,
            self.day(-450),
            self.day(-1),
            Some(OrderEvent::CollectEquipment),
        )
        .await?;
        self.uninstall(
            area,
            self.day(-380),
            self.day(-2),
            Some(OrderEvent::ReturnKeys),
        )
        .await?;
        Ok(())
    }

    /// Orders not executed after one and three months, and keys that never came.
    async fn stalled(&mut self, area: usize) -> Result<(), AppError> {
        // Received five weeks ago, still not booked: nobody reaches the customer.
        let c = self.customer(area, false).await?;
        let (_, o) = self
            .grant(&c, Service::SafetyAlarm, self.day(-35), None, None)
            .await?;
        let installer = self.staff[area].installer.clone();
        let contact = app::orders::log_contact(
            &self.state.db,
            installer,
            o.id.clone(),
            ContactKind::NoAnswer,
            Some("Ingen svarar på telefon; lapp lämnad i brevlådan.".into()),
        )
        .await?;
        self.stamps
            .contacts
            .push((contact.id, self.moment(self.day(-28), 14)));
        if area == 1 {
            return Ok(());
        }
        // Booked six weeks ago; the keys never came.
        let c = self.customer(area, false).await?;
        let (_, mut o) = self
            .grant(&c, Service::SafetyAlarm, self.day(-45), None, None)
            .await?;
        self.book(&c, &mut o, self.day(-40), time(10, 0)).await?;
        // More than three months: the customer was in hospital; the alarm lead's IVO list.
        let c = self.customer(area, false).await?;
        let (_, mut o) = self
            .grant(&c, Service::SafetyAlarm, self.day(-100), None, None)
            .await?;
        self.book(&c, &mut o, self.day(-90), time(11, 0)).await?;
        self.receive_keys(&c, &mut o, self.day(-90)).await?;
        // The team notes why it waits (today): the follow-up and reports say it.
        app::orders::log_contact(
            &self.state.db,
            self.staff[area].installer.clone(),
            o.id.clone(),
            ContactKind::Waiting,
            Some("Kunden vårdas på sjukhus; vi installerar när hon är hemma igen.".into()),
        )
        .await?;
        Ok(())
    }

    /// Keys in the cabinet, signed out, overdue and lost; a lock with its receipt product.
    async fn keys_and_locks(&mut self) -> Result<(), AppError> {
        let night = self.group(0, GroupKind::NightPatrol);
        let care = self.care.clone();
        // Signed out to the night patrol tonight.
        let (c, _) = self.running(0, self.day(-60), None, false).await?;
        self.move_key(
            &care,
            &c,
            KeyMove::SignOut,
            Some(night.clone()),
            Some("Nattens besök"),
        )
        .await?;
        // Signed out two days ago and not back: overdue.
        let (c, _) = self.running(0, self.day(-90), None, false).await?;
        let k = self
            .move_key(&care, &c, KeyMove::SignOut, Some(night), Some("Akut larm"))
            .await?;
        self.stamps
            .keys_out
            .push((k.id, self.moment(self.day(-2), 22)));
        // Lost on the way back from a visit.
        let (c, _) = self.running(0, self.day(-120), None, false).await?;
        let coordinator = self.staff[0].coordinator.clone();
        self.move_key(
            &coordinator,
            &c,
            KeyMove::ReportLost,
            None,
            Some("Nyckeln saknas efter kvällsbesöket; låset bör bytas."),
        )
        .await?;
        // The night patrol sees this customer without a fee.
        app::executions::start_night_visibility(
            &self.state.db,
            self.staff[0].coordinator.clone(),
            c.id.clone(),
            self.day(-30),
        )
        .await?;

        // A digital lock: ordered from the supplier, the receipt product
        // handed out meanwhile, mounted (the receipt product taken back), the
        // lock linked by the admin and the lock receipt fetched by home care.
        let (c, mut o) = self.lock_ordered(0, 70, 20, "Phoniro 2291").await?;
        self.book(&c, &mut o, self.day(-4), time(8, 30)).await?;
        self.install(&c, &mut o, self.day(-4), true).await?;
        let item = self.item(o.serials.clone().unwrap_or_default()).await?;
        app::equipment::step(
            &self.state.db,
            self.admin.clone(),
            item.id,
            item.version,
            app::equipment::ItemStep::Link {
                customer_id: c.id.clone(),
            },
        )
        .await?;
        self.step(
            &care,
            &mut o,
            OrderEvent::CollectLockReceipt,
            Effect::LockReceipt {
                collected_on: self.day(-2),
            },
            self.day(-2),
        )
        .await?;
        self.document(&care, &c, Some(&o.id), "lock_receipt", self.day(-2))
            .await?;
        // And one waiting for the supplier: the receipt product is at the customer's.
        let (c, mut o) = self.lock_ordered(1, 150, 8, "Phoniro 2304").await?;
        self.book(&c, &mut o, self.day(4), time(9, 0)).await?;
        Ok(())
    }

    async fn item(&self, serial: String) -> Result<custody::ItemRow, AppError> {
        self.state
            .db
            .run(move |conn| {
                custody::items_by_serial(conn, &serial)?
                    .pop()
                    .ok_or_else(|| oops(format!("no item {serial}")))
            })
            .await
    }

    /// A customer with an alarm since `alarm_days` ago granted a digital lock
    /// `granted_days` ago: the receipt product handed out meanwhile, the lock
    /// ordered from the supplier two days after the decision.
    async fn lock_ordered(
        &mut self,
        area: usize,
        alarm_days: i64,
        granted_days: i64,
        reference: &str,
    ) -> Result<(Customer, lifecycle::OrderRow), AppError> {
        let (c, _) = self
            .running(area, self.day(-alarm_days), None, false)
            .await?;
        let (_, mut o) = self
            .grant(
                &c,
                Service::DigitalLock,
                self.day(-granted_days),
                None,
                None,
            )
            .await?;
        self.receipt_product(&c).await?;
        let coordinator = self.staff[area].coordinator.clone();
        let ordered_on = self.day(2 - granted_days);
        self.step(
            &coordinator,
            &mut o,
            OrderEvent::OrderFromSupplier,
            Effect::Supplier {
                supplier: "Phoniro".into(),
                reference: Some(reference.into()),
                ordered_on,
            },
            ordered_on,
        )
        .await?;
        Ok((c, o))
    }

    /// A receipt product handed out to the customer by the installer.
    async fn receipt_product(&mut self, c: &Customer) -> Result<(), AppError> {
        let serial = self.take(EquipmentKind::ReceiptProduct).await?;
        let item = self.item(serial).await?;
        app::equipment::step(
            &self.state.db,
            self.staff[c.area].installer.clone(),
            item.id,
            item.version,
            app::equipment::ItemStep::HandOut {
                customer_id: c.id.clone(),
            },
        )
        .await?;
        Ok(())
    }

    /// Extensions in both areas: to check (in Boo also one with a gap),
    /// executed, returned to the assessor, withdrawn.
    async fn extensions(&mut self) -> Result<(), AppError> {
        let plans: [(usize, Option<OrderEvent>, bool); 9] = [
            (0, None, false),
            (0, None, true),
            (0, Some(OrderEvent::Execute), false),
            (0, Some(OrderEvent::ReturnToAssessor), false),
            (0, Some(OrderEvent::Cancel), false),
            (1, None, false),
            (1, Some(OrderEvent::Execute), false),
            (1, Some(OrderEvent::ReturnToAssessor), false),
            (1, Some(OrderEvent::Cancel), false),
        ];
        for (n, (area, event, gap)) in plans.into_iter().enumerate() {
            let ends = self.day(12 + n as i64 * 4);
            let installed = self.day(-200 - n as i64 * 9);
            let (c, d) = self
                .running_with(area, installed, Some(ends), false, false)
                .await?;
            let (_, mut o) = self
                .grant(
                    &c,
                    Service::SafetyAlarm,
                    ends + Duration::days(1),
                    Some(ends + Duration::days(366)),
                    Some(d.id.clone()),
                )
                .await?;
            if gap {
                self.stamps.gaps.push(o.decision_id.clone());
            }
            match event {
                Some(OrderEvent::Execute) => self.execute(&c, &mut o, self.day(-1)).await?,
                Some(OrderEvent::ReturnToAssessor) => {
                    let coordinator = self.staff[area].coordinator.clone();
                    let why = "Förlängningen saknar beslutsdatum i verksamhetssystemet.";
                    self.with_reason(
                        &coordinator,
                        &mut o,
                        OrderEvent::ReturnToAssessor,
                        why,
                        self.day(-1),
                    )
                    .await?;
                }
                Some(OrderEvent::Cancel) => {
                    let assessor = self.staff[area].assessor.clone();
                    let why = "Brukaren flyttar till annan kommun.";
                    self.with_reason(&assessor, &mut o, OrderEvent::Cancel, why, self.day(-1))
                        .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Returned to the assessor, declined, cancelled.
    async fn closed_orders(&mut self) -> Result<(), AppError> {
        for area in [0, 1] {
            let installer = self.staff[area].installer.clone();
            let c = self.customer(area, false).await?;
            let (_, mut o) = self
                .grant(&c, Service::SafetyAlarm, self.day(-5), None, None)
                .await?;
            self.with_reason(
                &installer,
                &mut o,
                OrderEvent::ReturnToAssessor,
                "Fel adress i beställningen: brukaren har flyttat till Tallvägen 8.",
                self.day(-2),
            )
            .await?;
            let c = self.customer(area, false).await?;
            let (_, mut o) = self
                .grant(&c, Service::SafetyAlarm, self.day(-12), None, None)
                .await?;
            self.book(&c, &mut o, self.day(-7), time(10, 0)).await?;
            self.with_reason(
                &installer,
                &mut o,
                OrderEvent::Decline,
                "Brukaren vill inte ha larm; dottern ringer varje kväll.",
                self.day(-7),
            )
            .await?;
            let assessor = self.staff[area].assessor.clone();
            let c = self.customer(area, false).await?;
            let (_, mut o) = self
                .grant(&c, Service::SafetyAlarm, self.day(-9), None, None)
                .await?;
            self.with_reason(
                &assessor,
                &mut o,
                OrderEvent::Cancel,
                "Brukaren har flyttat till särskilt boende.",
                self.day(-3),
            )
            .await?;
        }
        Ok(())
    }
}

/// Demo only: moves what the routines stamped "now" to the day it happened
/// in the story (an order received five weeks ago must say so, or it is not
/// stalled; an inbox reads in the order things happened), and opens the one
/// gap between two decisions that a grant would refuse, as a decision changed
/// in the old case system would leave it. The audit log and the outbox keep
/// the real time of the loading: they record what the system did, and when.
fn backdate(conn: &mut DbConn, s: Stamps) -> Result<(), AppError> {
    use schema::{decisions as d, key_moves as km, keys as k, messages as m, order_contacts as oc};
    use schema::{order_transitions as ot, orders as o};
    for (id, t) in s.decisions {
        diesel::update(d::table.find(id))
            .set((d::created_at.eq(t), d::updated_at.eq(t)))
            .execute(conn)?;
    }
    for (id, t) in s.orders {
        diesel::update(o::table.find(id))
            .set((o::received_at.eq(t), o::created_at.eq(t)))
            .execute(conn)?;
    }
    for (id, t) in s.transitions {
        diesel::update(ot::table.find(id))
            .set(ot::at.eq(t))
            .execute(conn)?;
    }
    for (id, t) in s.contacts {
        diesel::update(oc::table.find(id))
            .set(oc::at.eq(t))
            .execute(conn)?;
    }
    for (id, t) in s.keys_out {
        diesel::update(k::table.find(id.as_str()))
            .set(k::since.eq(t))
            .execute(conn)?;
        let last: i32 = km::table
            .filter(km::key_id.eq(&id))
            .select(diesel::dsl::max(km::seq))
            .first::<Option<i32>>(conn)?
            .unwrap_or(0);
        diesel::update(
            km::table
                .filter(km::key_id.eq(&id))
                .filter(km::seq.eq(last)),
        )
        .set(km::at.eq(t))
        .execute(conn)?;
    }
    for (from, to, t) in s.messages {
        diesel::update(
            m::table
                .filter(m::created_at.ge(from))
                .filter(m::created_at.le(to)),
        )
        .set(m::created_at.eq(t))
        .execute(conn)?;
    }
    for id in s.gaps {
        let from: NaiveDate = d::table
            .find(id.as_str())
            .select(d::valid_from)
            .first(conn)?;
        diesel::update(d::table.find(id.as_str()))
            .set(d::valid_from.eq(from + Duration::days(7)))
            .execute(conn)?;
    }
    Ok(())
}

/// A photographed paper: a white card with a coloured head, lines of
/// "writing", a signature and the photo's faint shadow, as PNG.
fn paper_photo(kind: &str, n: usize) -> Vec<u8> {
    let (w, h) = (480u32, 340u32);
    let head = match kind {
        "key_receipt" => image::Rgb([40, 90, 160]),
        "lock_receipt" => image::Rgb([150, 80, 30]),
        _ => image::Rgb([30, 120, 70]),
    };
    let ink = image::Rgb([30, 30, 60]);
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([214, 210, 200]));
    for y in 12..h - 12 {
        for x in 16..w - 16 {
            let shade = 255 - ((x + y) % 7) as u8;
            img.put_pixel(x, y, image::Rgb([shade, shade, shade - 6]));
        }
    }
    for y in 24..60 {
        for x in 30..w - 30 {
            img.put_pixel(x, y, head);
        }
    }
    for line in 0..6u32 {
        let y = 80 + line * 26;
        let len = 260 + ((n as u32 * 37 + line * 53) % 140);
        for x in 40..40 + len.min(w - 80) {
            if (x / 9 + line) % 6 != 0 {
                for dy in 0..5 {
                    img.put_pixel(x, y + dy, image::Rgb([120, 120, 125]));
                }
            }
        }
    }
    for x in 60..300u32 {
        let t = (x - 60) as f32 / 18.0 + n as f32;
        let y = 290.0 + 14.0 * t.sin() * (1.0 - (x - 60) as f32 / 300.0);
        for dy in 0..3 {
            img.put_pixel(x, (y as u32 + dy).min(h - 1), ink);
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG in memory");
    out.into_inner()
}
