//! Keys and equipment, with their move histories.

use super::schema::{equipment_items, equipment_models, equipment_moves, key_moves, keys};
use super::DbConn;
use crate::domain::custody::{EquipmentKind, ItemState, KeyCustody, KeyNumber};
use crate::domain::CustomerScope;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = keys, treat_none_as_null = true)]
pub struct KeyRow {
    pub id: String,
    pub key_number: String,
    pub customer_id: String,
    pub key_count: i32,
    pub cabinet: String,
    pub hook: String,
    pub night_cabinet: bool,
    pub custody: KeyCustody,
    pub holder_group_id: Option<String>,
    pub holder_user_id: Option<String>,
    pub since: NaiveDateTime,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = key_moves)]
pub struct KeyMoveRow {
    pub id: String,
    pub key_id: String,
    pub seq: i32,
    pub at: NaiveDateTime,
    pub user_id: String,
    pub move_kind: String,
    pub from_place: String,
    pub to_place: String,
    pub order_id: Option<String>,
    pub receipt_document_id: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = equipment_models)]
pub struct ModelRow {
    pub id: String,
    pub kind: EquipmentKind,
    pub supplier: String,
    pub model: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = equipment_items, treat_none_as_null = true)]
pub struct ItemRow {
    pub id: String,
    pub model_id: String,
    pub kind: EquipmentKind,
    pub supplier: String,
    pub serial: String,
    pub state: ItemState,
    pub customer_id: Option<String>,
    pub linked_customer_id: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = equipment_moves)]
pub struct ItemMoveRow {
    pub id: String,
    pub item_id: String,
    pub seq: i32,
    pub at: NaiveDateTime,
    pub user_id: String,
    pub from_state: String,
    pub to_state: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub note: Option<String>,
}

pub fn insert_key(conn: &mut DbConn, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_key(conn: &mut DbConn, id: &str) -> QueryResult<Option<KeyRow>> {
    keys::table
        .find(id)
        .select(KeyRow::as_select())
        .first(conn)
        .optional()
}

/// Key numbers are stored in their canonical form, so equality finds the key.
pub fn find_key_by_number(conn: &mut DbConn, number: &KeyNumber) -> QueryResult<Option<KeyRow>> {
    keys::table
        .filter(keys::key_number.eq(number.as_str()))
        .select(KeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn update_key_if_version(conn: &mut DbConn, row: &KeyRow, expected: i32) -> QueryResult<bool> {
    diesel::update(keys::table.filter(keys::id.eq(&row.id).and(keys::version.eq(expected))))
        .set(row)
        .execute(conn)
        .map(|n| n == 1)
}

/// The keys among `numbers` that are in the register already.
pub fn keys_by_numbers(conn: &mut DbConn, numbers: &[&str]) -> QueryResult<Vec<KeyRow>> {
    let mut found = Vec::new();
    // Bounded batches: SQLite allows 32766 bound parameters, PostgreSQL 65535.
    for batch in numbers.chunks(1000) {
        found.extend(
            keys::table
                .filter(keys::key_number.eq_any(batch))
                .select(KeyRow::as_select())
                .load(conn)?,
        );
    }
    Ok(found)
}

pub fn keys_of_customer(conn: &mut DbConn, customer_id: &str) -> QueryResult<Vec<KeyRow>> {
    keys::table
        .filter(keys::customer_id.eq(customer_id))
        .select(KeyRow::as_select())
        .order(keys::key_number)
        .load(conn)
}

#[derive(Debug, Default, Clone)]
pub struct KeyFilter {
    pub customer_id: Option<String>,
    pub key_number: Option<String>,
    pub holder_group_id: Option<String>,
    pub holder_user_id: Option<String>,
    pub custody: Option<String>,
    /// Signed out before this instant.
    pub signed_out_before: Option<NaiveDateTime>,
    pub limit: i64,
}

pub fn list_keys(
    conn: &mut DbConn,
    scope: &CustomerScope,
    f: &KeyFilter,
) -> QueryResult<Vec<KeyRow>> {
    let mut q = keys::table.select(KeyRow::as_select()).into_boxed();
    q = visible_to!(q, scope, keys::customer_id);
    if let Some(v) = &f.customer_id {
        q = q.filter(keys::customer_id.eq(v.clone()));
    }
    if let Some(v) = &f.key_number {
        q = q.filter(keys::key_number.eq(v.clone()));
    }
    if let Some(v) = &f.holder_group_id {
        q = q.filter(keys::holder_group_id.eq(v.clone()));
    }
    if let Some(v) = &f.holder_user_id {
        q = q.filter(keys::holder_user_id.eq(v.clone()));
    }
    if let Some(v) = &f.custody {
        q = q.filter(keys::custody.eq(v.clone()));
    }
    if let Some(t) = f.signed_out_before {
        q = q.filter(keys::custody.eq("signed_out").and(keys::since.lt(t)));
    }
    q.order(keys::key_number).limit(f.limit).load(conn)
}

pub fn insert_key_move(conn: &mut DbConn, row: &KeyMoveRow) -> QueryResult<()> {
    diesel::insert_into(key_moves::table)
        .values(row)
        .execute(conn)?;
    let customer_id: String = keys::table
        .find(&row.key_id)
        .select(keys::customer_id)
        .first(conn)?;
    // Never the places: a key's position must not leave the system.
    super::outbox::event(
        conn,
        "key.moved",
        Some(&customer_id),
        crate::event_data!("key_id": row.key_id, "move_id": row.id, "move": row.move_kind, "order_id": row.order_id),
    )
}

pub fn key_moves_of(conn: &mut DbConn, key_id: &str) -> QueryResult<Vec<KeyMoveRow>> {
    key_moves::table
        .filter(key_moves::key_id.eq(key_id))
        .select(KeyMoveRow::as_select())
        .order(key_moves::seq)
        .load(conn)
}

pub fn next_key_seq(conn: &mut DbConn, key_id: &str) -> QueryResult<i32> {
    let max: Option<i32> = key_moves::table
        .filter(key_moves::key_id.eq(key_id))
        .select(diesel::dsl::max(key_moves::seq))
        .first(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

pub fn insert_model(conn: &mut DbConn, row: &ModelRow) -> QueryResult<()> {
    diesel::insert_into(equipment_models::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_model(conn: &mut DbConn, id: &str) -> QueryResult<Option<ModelRow>> {
    equipment_models::table
        .find(id)
        .select(ModelRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_models(conn: &mut DbConn) -> QueryResult<Vec<ModelRow>> {
    equipment_models::table
        .select(ModelRow::as_select())
        .order((
            equipment_models::kind,
            equipment_models::supplier,
            equipment_models::model,
        ))
        .load(conn)
}

pub fn insert_item(conn: &mut DbConn, row: &ItemRow) -> QueryResult<()> {
    diesel::insert_into(equipment_items::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_item(conn: &mut DbConn, id: &str) -> QueryResult<Option<ItemRow>> {
    equipment_items::table
        .find(id)
        .select(ItemRow::as_select())
        .first(conn)
        .optional()
}

pub fn items_by_serial(conn: &mut DbConn, serial: &str) -> QueryResult<Vec<ItemRow>> {
    equipment_items::table
        .filter(equipment_items::serial.eq(serial))
        .select(ItemRow::as_select())
        .load(conn)
}

/// The items with any of these serials.
pub fn items_by_serials(conn: &mut DbConn, serials: &[&str]) -> QueryResult<Vec<ItemRow>> {
    let mut found = Vec::new();
    for batch in serials.chunks(1000) {
        found.extend(
            equipment_items::table
                .filter(equipment_items::serial.eq_any(batch))
                .select(ItemRow::as_select())
                .load(conn)?,
        );
    }
    Ok(found)
}

/// Every serial, for suggesting the closest to a mistyped one.
pub fn all_serials(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    equipment_items::table
        .select(equipment_items::serial)
        .load(conn)
}

pub fn update_item_if_version(
    conn: &mut DbConn,
    row: &ItemRow,
    expected: i32,
) -> QueryResult<bool> {
    diesel::update(
        equipment_items::table.filter(
            equipment_items::id
                .eq(&row.id)
                .and(equipment_items::version.eq(expected)),
        ),
    )
    .set(row)
    .execute(conn)
    .map(|n| n == 1)
}

#[derive(Debug, Default, Clone)]
pub struct ItemFilter {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub customer_id: Option<String>,
    pub serial: Option<String>,
    pub limit: i64,
}

pub fn list_items(conn: &mut DbConn, f: &ItemFilter) -> QueryResult<Vec<ItemRow>> {
    let mut q = equipment_items::table
        .select(ItemRow::as_select())
        .into_boxed();
    if let Some(v) = &f.state {
        q = q.filter(equipment_items::state.eq(v.clone()));
    }
    if let Some(v) = &f.kind {
        q = q.filter(equipment_items::kind.eq(v.clone()));
    }
    if let Some(v) = &f.customer_id {
        q = q.filter(equipment_items::customer_id.eq(v.clone()));
    }
    if let Some(v) = &f.serial {
        q = q.filter(equipment_items::serial.eq(v.clone()));
    }
    q.order((equipment_items::kind, equipment_items::serial))
        .limit(f.limit)
        .load(conn)
}

pub fn insert_item_move(conn: &mut DbConn, row: &ItemMoveRow) -> QueryResult<()> {
    diesel::insert_into(equipment_moves::table)
        .values(row)
        .execute(conn)?;
    super::outbox::event(
        conn,
        "equipment.moved",
        row.customer_id.as_deref(),
        crate::event_data!("item_id": row.item_id, "move_id": row.id, "from_state": row.from_state, "to_state": row.to_state, "order_id": row.order_id),
    )
}

pub fn item_moves_of(conn: &mut DbConn, item_id: &str) -> QueryResult<Vec<ItemMoveRow>> {
    equipment_moves::table
        .filter(equipment_moves::item_id.eq(item_id))
        .select(ItemMoveRow::as_select())
        .order(equipment_moves::seq)
        .load(conn)
}

pub fn next_item_seq(conn: &mut DbConn, item_id: &str) -> QueryResult<i32> {
    let max: Option<i32> = equipment_moves::table
        .filter(equipment_moves::item_id.eq(item_id))
        .select(diesel::dsl::max(equipment_moves::seq))
        .first(conn)?;
    Ok(max.unwrap_or(0) + 1)
}
