//! The key register's steps: a key received from the customer, and every move
//! after (signed out, signed in, returned, lost), each checked against where
//! the register has the key and recorded.

use crate::app::customers::load_visible;
use crate::app::validation::unknown_reference;
use crate::db::{self, audit, custody, Db, DbConn};
use crate::domain::custody::{key_move, KeyCount, KeyCustody, KeyMove, KeyNumber, KeyPosition};
use crate::domain::Actor;
use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::StatusCode;

/// A key as a step left it: the row, its customer's number and every move.
pub struct KeyRecord {
    pub key: custody::KeyRow,
    pub customer_number: String,
    pub moves: Vec<custody::KeyMoveRow>,
}

pub fn record_of(
    conn: &mut DbConn,
    key: custody::KeyRow,
    customer_number: String,
) -> Result<KeyRecord, AppError> {
    Ok(KeyRecord {
        moves: custody::key_moves_of(conn, &key.id)?,
        key,
        customer_number,
    })
}

/// A key the alarm team received from a customer, as the field gave it.
pub struct Received {
    pub customer_id: String,
    pub number: KeyNumber,
    pub count: KeyCount,
    pub position: KeyPosition,
    pub receipt_document_id: Option<String>,
}

/// Registers a key received from a customer the actor may see, hung in the cabinet.
pub async fn receive(db: &Db, user: Actor, r: Received) -> Result<KeyRecord, AppError> {
    db.transaction(move |conn| {
        let (customer, _) = load_visible(conn, &user, &r.customer_id, "key.receive")?;
        let k = register_key(
            conn,
            &user,
            &r.customer_id,
            &r.number,
            r.count,
            &r.position,
            None,
            r.receipt_document_id,
        )?;
        record_of(conn, k, customer.customer_number)
    })
    .await
}

/// Moves a key whose customer the actor may see, if it is still at version
/// `expected` (412 otherwise) and where the move starts (409 otherwise).
pub async fn move_visible(
    db: &Db,
    user: Actor,
    id: String,
    expected: i32,
    change: KeyChange<'static>,
) -> Result<KeyRecord, AppError> {
    db.transaction(move |conn| {
        let (mut k, number) = load_visible_key(conn, &user, &id, "key.move")?;
        if k.version != expected {
            return Err(AppError::stale_version(k.version));
        }
        move_key(conn, &user, &mut k, change)?;
        record_of(conn, k, number)
    })
    .await
}

pub fn place(k: &custody::KeyRow) -> String {
    match k.custody.as_str() {
        "in_cabinet" => format!("cabinet:{}/{}", k.cabinet, k.hook),
        "signed_out" => match (&k.holder_group_id, &k.holder_user_id) {
            (Some(g), _) => format!("group:{g}"),
            (_, Some(u)) => format!("user:{u}"),
            _ => "signed_out".into(),
        },
        "returned" => "customer".into(),
        _ => "lost".into(),
    }
}

/// Where the register thinks the key is, in words a person at the cabinet understands.
fn whereabouts(conn: &mut DbConn, k: &custody::KeyRow) -> Result<(String, String), AppError> {
    let since = k.since.format("%Y-%m-%d %H:%M");
    Ok(match k.custody.as_str() {
        "in_cabinet" => (
            format!("in {} on hook {} since {since}", k.cabinet, k.hook),
            format!("i {} på krok {} sedan {since}", k.cabinet, k.hook),
        ),
        "signed_out" => {
            let who = match (&k.holder_group_id, &k.holder_user_id) {
                (Some(g), _) => db::org::find_group(conn, g)?
                    .map(|g| g.name)
                    .unwrap_or_default(),
                (_, Some(u)) => db::users::find(conn, u)?
                    .map(|u| u.display_name)
                    .unwrap_or_default(),
                _ => String::new(),
            };
            (
                format!("signed out to {who} since {since}"),
                format!("utkvitterad till {who} sedan {since}"),
            )
        }
        "returned" => (
            format!("returned to the customer on {since}"),
            format!("återlämnad till kunden {since}"),
        ),
        _ => (
            format!("reported lost on {since}"),
            format!("anmäld förlorad {since}"),
        ),
    })
}

pub struct KeyChange<'a> {
    pub mv: KeyMove,
    pub to_group: Option<String>,
    pub to_user: Option<String>,
    pub cabinet: Option<(String, String, bool)>,
    pub order_id: Option<&'a str>,
    pub receipt_document_id: Option<String>,
    pub note: Option<String>,
}

impl KeyChange<'static> {
    /// The move alone: nowhere new, no order, receipt or note.
    pub fn of(mv: KeyMove) -> Self {
        KeyChange {
            mv,
            to_group: None,
            to_user: None,
            cabinet: None,
            order_id: None,
            receipt_document_id: None,
            note: None,
        }
    }
}

/// Moves a key if the register has it where the move starts; otherwise 409
/// saying where the register thinks it is. Records the move.
pub fn move_key(
    conn: &mut DbConn,
    user: &Actor,
    k: &mut custody::KeyRow,
    change: KeyChange<'_>,
) -> Result<(), AppError> {
    if let Some(g) = &change.to_group {
        db::org::find_group(conn, g)?
            .ok_or_else(|| unknown_reference("group_id", "group", "gruppen"))?;
    }
    if let Some(u) = &change.to_user {
        db::users::find(conn, u)?
            .ok_or_else(|| unknown_reference("user_id", "user", "användaren"))?;
    }
    check_receipt(conn, &k.customer_id, change.receipt_document_id.as_deref())?;
    let from: KeyCustody = k.custody;
    let Some(to) = key_move(from, change.mv) else {
        let (en, sv) = whereabouts(conn, k)?;
        return Err(AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::KeyNotThere,
            format!(
                "Key {} cannot be {}: the register says it is {en}.",
                k.key_number,
                change.mv.done_en()
            ),
            format!(
                "Nyckel {} kan inte {}: registret säger att den är {sv}.",
                k.key_number,
                change.mv.done_sv()
            ),
        ));
    };
    let from_place = place(k);
    let expected = k.version;
    k.custody = to;
    k.holder_group_id = change.to_group;
    k.holder_user_id = change.to_user;
    if let Some((cabinet, hook, night)) = change.cabinet {
        (k.cabinet, k.hook, k.night_cabinet) = (cabinet, hook, night);
    }
    let now = db::now();
    k.since = now;
    k.version += 1;
    k.updated_at = now;
    if !custody::update_key_if_version(conn, k, expected)? {
        return Err(AppError::stale_version(expected + 1));
    }
    let seq = custody::next_key_seq(conn, &k.id)?;
    custody::insert_key_move(
        conn,
        &custody::KeyMoveRow {
            id: db::new_id(),
            key_id: k.id.clone(),
            seq,
            at: now,
            user_id: user.id.clone(),
            move_kind: change.mv.as_str().to_string(),
            from_place,
            to_place: place(k),
            order_id: change.order_id.map(str::to_string),
            receipt_document_id: change.receipt_document_id,
            note: change.note,
        },
    )?;
    audit::record(
        conn,
        user,
        audit::Entry::new(&format!("key.{}", change.mv.as_str()), "key", Some(&k.id))
            .customer(&k.customer_id),
    )?;
    Ok(())
}

/// A receipt named for a key's move must be a document of the key's customer
/// (whom the caller may see, or the key would not be found): one that does not
/// exist and another customer's get the same answer.
fn check_receipt(
    conn: &mut DbConn,
    customer_id: &str,
    document_id: Option<&str>,
) -> Result<(), AppError> {
    let Some(id) = document_id else {
        return Ok(());
    };
    match crate::db::documents::find(conn, id)? {
        Some(d) if d.customer_id == customer_id => Ok(()),
        _ => Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "The receipt document is not a document of this key's customer. Upload the photo of the signed receipt first and name its id; nothing was changed.",
            "Kvittensdokumentet är inget dokument för nyckelns kund. Ladda upp fotot av den signerade kvittensen först och ange dess id; inget har ändrats.",
        )
        .with_field_errors(vec![crate::error::FieldError {
            field: "receipt_document_id".into(),
            code: "unknown".into(),
            detail: "no such document of this customer".into(),
            detail_sv: "det finns inget sådant dokument för brukaren".into(),
        }])),
    }
}

/// Registers a key received from the customer, hung in the cabinet.
#[allow(clippy::too_many_arguments)]
pub fn register_key(
    conn: &mut DbConn,
    user: &Actor,
    customer_id: &str,
    key_number: &KeyNumber,
    count: KeyCount,
    position: &KeyPosition,
    order_id: Option<&str>,
    receipt_document_id: Option<String>,
) -> Result<custody::KeyRow, AppError> {
    check_receipt(conn, customer_id, receipt_document_id.as_deref())?;
    if let Some(existing) = custody::find_key_by_number(conn, key_number)? {
        let same = existing.customer_id == customer_id;
        return Err(AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::KeyNumberTaken,
            format!(
                "Key number {key_number} is already in the register{}. Key numbers are unique in the organisation (compared without regard to case, spaces or dashes).",
                if same { " for this customer" } else { " for another customer" }
            ),
            format!("Nyckelnummer {key_number} finns redan i registret{}. Nyckelnummer är unika i organisationen (oavsett stora och små bokstäver, mellanslag och bindestreck).", if same { " för denna kund" } else { " för en annan kund" }),
        ));
    }
    let now = db::now();
    let row = custody::KeyRow {
        id: db::new_id(),
        key_number: key_number.as_str().to_string(),
        customer_id: customer_id.to_string(),
        key_count: count.get(),
        cabinet: position.cabinet.clone(),
        hook: position.hook.clone(),
        night_cabinet: position.night_cabinet,
        custody: KeyCustody::InCabinet,
        holder_group_id: None,
        holder_user_id: None,
        since: now,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    custody::insert_key(conn, &row)?;
    custody::insert_key_move(
        conn,
        &custody::KeyMoveRow {
            id: db::new_id(),
            key_id: row.id.clone(),
            seq: 1,
            at: now,
            user_id: user.id.clone(),
            move_kind: KeyMove::Receive.as_str().to_string(),
            from_place: "customer".into(),
            to_place: place(&row),
            order_id: order_id.map(str::to_string),
            receipt_document_id,
            note: None,
        },
    )?;
    audit::record(
        conn,
        user,
        audit::Entry::new("key.receive", "key", Some(&row.id)).customer(customer_id),
    )?;
    Ok(row)
}

pub fn key_not_found() -> AppError {
    AppError::not_found(ErrorCode::KeyNotFound, "key", "nyckel")
}

pub fn load_visible_key(
    conn: &mut DbConn,
    user: &Actor,
    id: &str,
    action: &str,
) -> Result<(custody::KeyRow, String), AppError> {
    let k = custody::find_key(conn, id)?.ok_or_else(key_not_found)?;
    let (customer, _) = load_visible(conn, user, &k.customer_id, action).map_err(|e| {
        if e.code() == ErrorCode::CustomerNotFound {
            key_not_found().denied()
        } else {
            e
        }
    })?;
    Ok((k, customer.customer_number))
}

pub use crate::db::custody::{KeyMoveRow, KeyRow};

/// Signed out longer than the `hours` a key may be away.
pub fn is_overdue(k: &KeyRow, hours: i64) -> bool {
    k.custody == KeyCustody::SignedOut && db::now() - k.since > chrono::Duration::hours(hours)
}

/// Which keys of the register to list.
pub struct KeyQuery {
    pub customer_id: Option<String>,
    /// A canonical key number.
    pub key_number: Option<String>,
    pub holder_group_id: Option<String>,
    pub holder_user_id: Option<String>,
    pub custody: Option<KeyCustody>,
    /// Only keys signed out longer than `overdue_hours`.
    pub overdue: bool,
    /// Only keys that cannot be accounted for: lost, or overdue.
    pub unaccounted: bool,
    pub overdue_hours: i64,
    pub limit: i64,
}

/// The keys the query selects among the customers the actor may see, by key
/// number, each with its customer's number; each look audited.
pub async fn list(db: &Db, user: Actor, q: KeyQuery) -> Result<Vec<(KeyRow, String)>, AppError> {
    let overdue_before = db::now() - chrono::Duration::hours(q.overdue_hours);
    let base = custody::KeyFilter {
        customer_id: q.customer_id,
        key_number: q.key_number,
        holder_group_id: q.holder_group_id,
        holder_user_id: q.holder_user_id,
        custody: q.custody.map(|c| c.as_str().to_string()),
        signed_out_before: q.overdue.then_some(overdue_before),
        limit: q.limit,
    };
    let scope = user.scope();
    db.transaction(move |conn| {
        let mut rows = if q.unaccounted {
            let mut lost = custody::list_keys(
                conn,
                &scope,
                &custody::KeyFilter {
                    custody: Some(KeyCustody::Lost.as_str().into()),
                    ..base.clone()
                },
            )?;
            lost.extend(custody::list_keys(
                conn,
                &scope,
                &custody::KeyFilter {
                    signed_out_before: Some(overdue_before),
                    ..base
                },
            )?);
            lost
        } else {
            custody::list_keys(conn, &scope, &base)?
        };
        rows.sort_by(|a, b| a.key_number.cmp(&b.key_number));
        let ids: Vec<String> = rows.iter().map(|k| k.customer_id.clone()).collect();
        for k in &rows {
            audit::record(
                conn,
                &user,
                audit::Entry::new("key.list", "key", Some(&k.id)).customer(&k.customer_id),
            )?;
        }
        let numbers = crate::db::customers::numbers_of(conn, &ids)?;
        Ok(rows
            .into_iter()
            .map(|k| {
                let n = numbers
                    .iter()
                    .find(|(id, _)| *id == k.customer_id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default();
                (k, n)
            })
            .collect())
    })
    .await
}

/// Where a customer's keys are right now, with the customer's number; the
/// look audited.
pub async fn of_customer(
    db: &Db,
    user: Actor,
    id: String,
) -> Result<(Vec<KeyRow>, String), AppError> {
    db.transaction(move |conn| {
        let (customer, _) = load_visible(conn, &user, &id, "key.list")?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("key.list", "customer", Some(&id)).customer(&id),
        )?;
        Ok((
            custody::keys_of_customer(conn, &id)?,
            customer.customer_number,
        ))
    })
    .await
}

/// One key and its whole custody chain; the look audited.
pub async fn read(db: &Db, user: Actor, id: String) -> Result<KeyRecord, AppError> {
    db.transaction(move |conn| {
        let (k, number) = load_visible_key(conn, &user, &id, "key.read")?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("key.read", "key", Some(&id)).customer(&k.customer_id),
        )?;
        record_of(conn, k, number)
    })
    .await
}
