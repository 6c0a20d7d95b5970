//! Equipment's steps: items moved between stock, installers and customers,
//! installed by serial, marked to collect and collected, each recorded.

use crate::app::customers::load_visible;
use crate::app::validation::Problems;
use crate::db::{self, audit, custody, customers, Db, DbConn};
use crate::domain::custody::{closest, item_move, EquipmentKind, ItemMove, ItemState};
use crate::domain::{Actor, Service};
use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::StatusCode;

pub fn record(
    conn: &mut DbConn,
    user: &Actor,
    item: &custody::ItemRow,
    from: &str,
    order_id: Option<&str>,
    note: Option<String>,
) -> Result<(), AppError> {
    let seq = custody::next_item_seq(conn, &item.id)?;
    custody::insert_item_move(
        conn,
        &custody::ItemMoveRow {
            id: db::new_id(),
            item_id: item.id.clone(),
            seq,
            at: db::now(),
            user_id: user.id.clone(),
            from_state: from.to_string(),
            to_state: item.state.as_str().to_string(),
            customer_id: item.customer_id.clone(),
            order_id: order_id.map(str::to_string),
            note,
        },
    )?;
    let mut entry = audit::Entry::new("equipment.move", "equipment", Some(&item.id));
    if let Some(c) = &item.customer_id {
        entry = entry.customer(c);
    }
    audit::record(conn, user, entry)?;
    Ok(())
}

/// Moves an item if its state allows; otherwise 409 saying where it is.
pub fn move_item(
    conn: &mut DbConn,
    user: &Actor,
    item: &mut custody::ItemRow,
    mv: ItemMove,
    customer_id: Option<String>,
    order_id: Option<&str>,
    note: Option<String>,
) -> Result<(), AppError> {
    let from: ItemState = item.state;
    let Some(to) = item_move(from, mv) else {
        let number = match &item.customer_id {
            Some(c) => customers::numbers_of(conn, std::slice::from_ref(c))?
                .pop()
                .map(|(_, n)| n),
            None => None,
        };
        let (at_en, at_sv) = number
            .map(|n| (format!(" (customer {n})"), format!(" (kund {n})")))
            .unwrap_or_default();
        return Err(AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::ItemNotThere,
            format!(
                "Item {} cannot be {}: the register has it {}{at_en}.",
                item.serial,
                mv.done_en(),
                from.as_str().replace('_', " ")
            ),
            format!(
                "Enhet {} kan inte {}: registret har den som {}{at_sv}.",
                item.serial,
                mv.done_sv(),
                from.sv()
            ),
        ));
    };
    let expected = item.version;
    item.state = to;
    item.customer_id = match to {
        ItemState::InStock | ItemState::Scrapped => None,
        _ => customer_id.or(item.customer_id.take()),
    };
    item.version += 1;
    item.updated_at = db::now();
    if !custody::update_item_if_version(conn, item, expected)? {
        return Err(AppError::stale_version(expected + 1));
    }
    record(conn, user, item, from.as_str(), order_id, note)
}

/// Resolves a serial typed or scanned by an installer: unknown → 422 naming
/// the closest known serials.
fn find_serial(conn: &mut DbConn, serial: &str, field: &str) -> Result<custody::ItemRow, AppError> {
    let mut found = custody::items_by_serial(conn, serial)?;
    if found.len() == 1 {
        return Ok(found.remove(0));
    }
    let mut p = Problems::default();
    if found.is_empty() {
        let known = custody::all_serials(conn)?;
        let closest = closest(&known, serial, 3);
        p.add(
            field,
            "unknown_serial",
            format!(
                "no item with serial {serial}; closest known: {}",
                closest.join(", ")
            ),
            format!(
                "det finns ingen utrustning med serienummer {serial}; närmast liknande: {}",
                closest.join(", ")
            ),
        );
    } else {
        p.add(
            field,
            "ambiguous_serial",
            format!("serial {serial} belongs to several suppliers' items; register them apart"),
            format!("serienummer {serial} finns hos flera leverantörers utrustning; registrera dem var för sig"),
        );
    }
    Err(p.finish().unwrap_err())
}

/// The installer names the serials left at the customer's (order `install`).
pub fn install_serials(
    conn: &mut DbConn,
    user: &Actor,
    customer: &customers::CustomerRow,
    order_id: &str,
    service: Service,
    serials: &[String],
) -> Result<(), AppError> {
    for (i, serial) in serials.iter().enumerate() {
        let field = format!("serials[{i}]");
        let mut item = find_serial(conn, serial, &field)?;
        let kind: EquipmentKind = item.kind;
        if item.customer_id.as_deref() == Some(customer.id.as_str())
            && item.state == ItemState::AtCustomer
        {
            continue; // already recorded here: a resent install
        }
        if kind.service() != service || kind == EquipmentKind::ReceiptProduct {
            let mut p = Problems::default();
            p.add(
                &field,
                "wrong_kind",
                format!(
                    "{serial} is a {} and does not belong to this order",
                    kind.as_str()
                ),
                format!("{serial} är fel sorts utrustning och hör inte till den här beställningen"),
            );
            p.finish()?;
        }
        if item.state == ItemState::AtCustomer || item.state == ItemState::ToCollect {
            let other = item.customer_id.clone().unwrap_or_default();
            let number = customers::numbers_of(conn, &[other])?
                .pop()
                .map(|(_, n)| n)
                .unwrap_or_default();
            return Err(AppError::new(
                StatusCode::CONFLICT,
                ErrorCode::ItemAtOtherCustomer,
                format!("Item {serial} is registered at customer {number}. Collect it there first, or check the serial."),
                format!("Enhet {serial} är registrerad hos kund {number}. Hämta den där först, eller kontrollera serienumret."),
            ));
        }
        move_item(
            conn,
            user,
            &mut item,
            ItemMove::Install,
            Some(customer.id.clone()),
            Some(order_id),
            None,
        )?;
    }
    if service == Service::DigitalLock {
        // The receipt product is removed when the lock is mounted (seed 002).
        let at_customer = custody::list_items(
            conn,
            &custody::ItemFilter {
                customer_id: Some(customer.id.clone()),
                kind: Some(EquipmentKind::ReceiptProduct.as_str().into()),
                state: Some(ItemState::AtCustomer.as_str().into()),
                limit: 100,
                ..Default::default()
            },
        )?;
        for mut receipt in at_customer {
            move_item(
                conn,
                user,
                &mut receipt,
                ItemMove::Collect,
                None,
                Some(order_id),
                Some("Låset monterat; kvittensprodukten borttagen".into()),
            )?;
        }
    }
    Ok(())
}

/// The service ended: the customer's items of it are to be collected.
pub fn mark_to_collect(
    conn: &mut DbConn,
    user: &Actor,
    customer_id: &str,
    service: Service,
    order_id: &str,
) -> Result<usize, AppError> {
    let items = custody::list_items(
        conn,
        &custody::ItemFilter {
            customer_id: Some(customer_id.to_string()),
            state: Some(ItemState::AtCustomer.as_str().into()),
            limit: 1000,
            ..Default::default()
        },
    )?;
    let mut n = 0;
    for mut item in items {
        if item.kind.service() == service {
            move_item(
                conn,
                user,
                &mut item,
                ItemMove::MarkToCollect,
                None,
                Some(order_id),
                None,
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// The uninstall's collected step: what came back, what is missing.
pub fn collect(
    conn: &mut DbConn,
    user: &Actor,
    customer_id: &str,
    order_id: &str,
    items: &[String],
    missing: &[String],
) -> Result<(), AppError> {
    for (list, mv, name) in [
        (items, ItemMove::Collect, "items"),
        (missing, ItemMove::ReportMissing, "missing"),
    ] {
        for (i, serial) in list.iter().enumerate() {
            let field = format!("{name}[{i}]");
            let mut item = find_serial(conn, serial, &field)?;
            if item.customer_id.as_deref() != Some(customer_id) {
                let mut p = Problems::default();
                p.add(
                    &field,
                    "not_at_customer",
                    format!("{serial} is not registered at this customer"),
                    format!("{serial} är inte registrerad hos den här brukaren"),
                );
                p.finish()?;
            }
            move_item(conn, user, &mut item, mv, None, Some(order_id), None)?;
        }
    }
    Ok(())
}

/// An item as a step left it, with its customer's number and its moves.
pub struct ItemRecord {
    pub item: custody::ItemRow,
    pub customer_number: Option<String>,
    pub moves: Vec<custody::ItemMoveRow>,
}

pub fn record_of(conn: &mut DbConn, item: custody::ItemRow) -> Result<ItemRecord, AppError> {
    let customer_number = match &item.customer_id {
        Some(c) => customers::numbers_of(conn, std::slice::from_ref(c))?
            .pop()
            .map(|(_, n)| n),
        None => None,
    };
    Ok(ItemRecord {
        moves: custody::item_moves_of(conn, &item.id)?,
        customer_number,
        item,
    })
}

/// A step done to one item at the desk or in the field.
pub enum ItemStep {
    /// A receipt product handed to a customer (not an alarm or a lock).
    HandOut {
        customer_id: String,
    },
    Restock {
        note: Option<String>,
    },
    Scrap {
        note: Option<String>,
    },
    Collect {
        note: Option<String>,
    },
    /// A mounted digital lock linked to its customer in the supplier's system.
    Link {
        customer_id: String,
    },
    Unlink {
        note: Option<String>,
    },
}

/// Does `step` to an item the actor may see, if it is still at version `expected`.
pub async fn step(
    db: &Db,
    user: Actor,
    id: String,
    expected: i32,
    step: ItemStep,
) -> Result<ItemRecord, AppError> {
    db.transaction(move |conn| {
        let mut item = find_visible_item(conn, &user, &id, "equipment.move")?;
        if item.version != expected {
            return Err(AppError::stale_version(item.version));
        }
        let (user, item) = (&user, &mut item);
        match step {
            ItemStep::HandOut { customer_id } => {
                let (customer, _) = load_visible(conn, user, &customer_id, "equipment.hand_out")?;
                if item.kind != EquipmentKind::ReceiptProduct {
                    return Err(AppError::new(StatusCode::CONFLICT, ErrorCode::NotAReceiptProduct, "Only receipt products are handed out this way; alarms and locks go with their order.", "Bara kvittensprodukter lämnas ut så; larm och lås går via sin beställning."));
                }
                if customer.other_municipality {
                    return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::OtherMunicipalityNoLock, "This customer's case comes from another municipality: no lock or receipt product (seed 002).", "Kundens ärende kommer från en annan kommun: inget lås eller kvittensprodukt."));
                }
                move_item(conn, user, item, ItemMove::Install, Some(customer.id), None, None)
            }
            ItemStep::Restock { note } => {
                move_item(conn, user, item, ItemMove::Restock, None, None, note)
            }
            ItemStep::Scrap { note } => move_item(conn, user, item, ItemMove::Scrap, None, None, note),
            ItemStep::Collect { note } => {
                move_item(conn, user, item, ItemMove::Collect, None, None, note)
            }
            ItemStep::Link { customer_id } => {
                load_visible(conn, user, &customer_id, "equipment.link")?;
                if item.kind != EquipmentKind::DigitalLock
                    || item.state != ItemState::AtCustomer
                    || item.customer_id.as_deref() != Some(customer_id.as_str())
                {
                    return Err(AppError::new(
                        StatusCode::CONFLICT,
                        ErrorCode::NotMountedHere,
                        "Only a digital lock mounted at this customer's can be linked to them.",
                        "Bara ett digitalt lås monterat hos kunden kan kopplas till kunden.",
                    ));
                }
                let note = Some("Kopplat till kund".into());
                set_link(conn, user, item, Some(customer_id), note)
            }
            ItemStep::Unlink { note } => {
                if item.linked_customer_id.is_none() {
                    return Err(AppError::new(
                        StatusCode::CONFLICT,
                        ErrorCode::NotLinked,
                        "This lock is not linked to a customer.",
                        "Låset är inte kopplat till någon kund.",
                    ));
                }
                let note = note.or(Some("Koppling borttagen".into()));
                set_link(conn, user, item, None, note)
            }
        }?;
        record_of(conn, item.clone())
    })
    .await
}

/// Links a lock to its customer (or unlinks it), recorded as a move in place.
fn set_link(
    conn: &mut DbConn,
    user: &Actor,
    item: &mut custody::ItemRow,
    customer_id: Option<String>,
    note: Option<String>,
) -> Result<(), AppError> {
    let expected = item.version;
    item.linked_customer_id = customer_id;
    item.version += 1;
    item.updated_at = db::now();
    if !custody::update_item_if_version(conn, item, expected)? {
        return Err(AppError::stale_version(expected + 1));
    }
    record(conn, user, item, item.state.as_str(), None, note)
}

pub fn item_not_found() -> AppError {
    AppError::not_found(ErrorCode::ItemNotFound, "item", "enhet")
}

/// Loads an item; one at (or collected from) a customer the caller may not
/// see answers 404 exactly like one that does not exist (the attempt is audited).
pub fn find_visible_item(
    conn: &mut DbConn,
    user: &Actor,
    id: &str,
    action: &str,
) -> Result<custody::ItemRow, AppError> {
    let item = custody::find_item(conn, id)?.ok_or_else(item_not_found)?;
    if let Some(c) = &item.customer_id {
        load_visible(conn, user, c, action).map_err(|e| {
            if e.code() == ErrorCode::CustomerNotFound {
                item_not_found().denied()
            } else {
                e
            }
        })?;
    }
    Ok(item)
}

/// Registers one item in stock; shared with the import.
pub fn new_item(
    conn: &mut DbConn,
    user: &Actor,
    model_id: &str,
    serial: &str,
) -> Result<custody::ItemRow, AppError> {
    let model = custody::find_model(conn, model_id)?.ok_or_else(|| {
        crate::app::validation::unknown_reference("model_id", "model", "modellen")
    })?;
    let now = db::now();
    let item = custody::ItemRow {
        id: db::new_id(),
        model_id: model.id,
        kind: model.kind,
        supplier: model.supplier,
        serial: serial.to_string(),
        state: ItemState::InStock,
        customer_id: None,
        linked_customer_id: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    custody::insert_item(conn, &item).map_err(|e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::SerialTaken,
            format!("Serial {serial} is already registered for this supplier and kind."),
            format!("Serienummer {serial} är redan registrerat för denna leverantör och typ."),
        ),
        other => other.into(),
    })?;
    record(conn, user, &item, "new", None, None)?;
    Ok(item)
}

pub use crate::db::custody::{ItemMoveRow, ItemRow, ModelRow};

/// The catalogue of models.
pub async fn models(db: &Db) -> Result<Vec<ModelRow>, AppError> {
    db.run(|conn| Ok(custody::list_models(conn)?)).await
}

/// Adds a model to the catalogue.
pub async fn add_model(
    db: &Db,
    user: Actor,
    kind: EquipmentKind,
    supplier: String,
    model: String,
) -> Result<ModelRow, AppError> {
    let row = ModelRow {
        id: db::new_id(),
        kind,
        supplier,
        model,
        created_at: db::now(),
    };
    db.transaction(move |conn| {
        custody::insert_model(conn, &row)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("equipment.model_create", "equipment_model", Some(&row.id)),
        )?;
        Ok(row)
    })
    .await
}

/// Registers an item of a model in stock, by its serial number.
pub async fn register(
    db: &Db,
    user: Actor,
    model_id: String,
    serial: String,
) -> Result<ItemRecord, AppError> {
    db.transaction(move |conn| {
        let item = new_item(conn, &user, &model_id, &serial)?;
        record_of(conn, item)
    })
    .await
}

/// Which items to list.
pub struct ItemQuery {
    pub state: Option<ItemState>,
    pub kind: Option<EquipmentKind>,
    pub customer_id: Option<String>,
    pub serial: Option<String>,
    pub limit: i64,
}

/// The items the query selects, but those at customers the actor may not see,
/// each with its customer's number; an item listed at a customer's is a look
/// at that customer, audited.
pub async fn list(
    db: &Db,
    user: Actor,
    q: ItemQuery,
) -> Result<Vec<(ItemRow, Option<String>)>, AppError> {
    let filter = custody::ItemFilter {
        state: q.state.map(|s| s.as_str().into()),
        kind: q.kind.map(|k| k.as_str().into()),
        customer_id: q.customer_id,
        serial: q.serial,
        limit: q.limit,
    };
    let scope = user.scope();
    db.transaction(move |conn| {
        let rows = custody::list_items(conn, &filter)?;
        let mut ids: Vec<String> = rows.iter().filter_map(|i| i.customer_id.clone()).collect();
        ids.sort();
        ids.dedup();
        // Only the listed items' customers: reading every visible customer
        // cost 25,000 rows a call and hid items past the 65,535th.
        let visible = customers::list(
            conn,
            &scope,
            &customers::ListFilter {
                limit: ids.len() as i64,
                ids: Some(ids.clone()),
                ..Default::default()
            },
        )?
        .into_iter()
        .map(|c| c.id)
        .collect::<Vec<_>>();
        // Items listed at a customer's are a read of that customer's record.
        audit::record_many(
            conn,
            &user,
            rows.iter().filter_map(|i| {
                let c = i.customer_id.as_ref().filter(|c| visible.contains(c))?;
                Some(audit::Entry::new("equipment.list", "equipment", Some(&i.id)).customer(c))
            }),
        )?;
        let numbers = customers::numbers_of(conn, &ids)?;
        Ok(rows
            .into_iter()
            // Items at customers the caller may not see are not listed.
            .filter(|i| i.customer_id.as_ref().is_none_or(|c| visible.contains(c)))
            .map(|i| {
                let n = i.customer_id.as_ref().and_then(|c| {
                    numbers
                        .iter()
                        .find(|(id, _)| id == c)
                        .map(|(_, n)| n.clone())
                });
                (i, n)
            })
            .collect())
    })
    .await
}

/// One item and its custody chain; at a customer's, the look audited.
pub async fn read(db: &Db, user: Actor, id: String) -> Result<ItemRecord, AppError> {
    db.transaction(move |conn| {
        let item = find_visible_item(conn, &user, &id, "equipment.read")?;
        if let Some(c) = &item.customer_id {
            audit::record(
                conn,
                &user,
                audit::Entry::new("equipment.read", "equipment", Some(&item.id)).customer(c),
            )?;
        }
        record_of(conn, item)
    })
    .await
}
