//! The key register's steps: a key received from the customer, and every move
//! after (signed out, signed in, returned, lost), each checked against where
//! the register has the key and recorded.

use crate::db::{self, audit, custody, DbConn};
use crate::domain::custody::{key_move, KeyCount, KeyCustody, KeyMove, KeyNumber, KeyPosition};
use crate::domain::Actor;
use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::StatusCode;

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

/// Moves a key if the register has it where the move starts; otherwise 409
/// saying where the register thinks it is. Records the move.
pub fn move_key(
    conn: &mut DbConn,
    user: &Actor,
    k: &mut custody::KeyRow,
    change: KeyChange<'_>,
) -> Result<(), AppError> {
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
                change.mv.as_str().replace('_', " ")
            ),
            format!(
                "Nyckel {} kan inte flyttas ({}): registret säger att den är {sv}.",
                k.key_number,
                change.mv.as_str()
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
