//! Customers as the routines reach them: only those the actor may see, every
//! look audited.

use crate::app::validation::{unknown_reference, Problems};
use crate::auth::permissions::{may_hold, Duty};
use crate::db::{self, audit, customers, org, users, Db, DbConn};
use crate::domain::{Actor, Personnummer};
use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::StatusCode;

pub use crate::db::customers::{CustomerRow, ListFilter};

pub fn customer_not_found() -> AppError {
    AppError::not_found(ErrorCode::CustomerNotFound, "customer", "brukare")
}

/// Loads a customer the caller may see, or records the denied attempt and
/// answers 404 (never 403: that would confirm the customer exists).
pub fn load_visible(
    conn: &mut DbConn,
    user: &Actor,
    id: &str,
    action: &str,
) -> Result<(CustomerRow, Vec<String>), AppError> {
    let row = customers::find(conn, id)?.ok_or_else(customer_not_found)?;
    let groups = customers::groups_of(conn, id)?;
    if !user.scope().admits(&row.area_id, &groups) {
        audit::record(
            conn,
            user,
            audit::Entry::new(action, "customer", Some(id))
                .customer(id)
                .outcome(audit::Outcome::Denied),
        )?;
        return Err(customer_not_found().denied());
    }
    Ok((row, groups))
}

/// Reads something that belongs to a customer the caller may see (decisions,
/// executions…), recording the read in the audit log as `action`.
pub async fn read_of_customer<T, F>(
    db: &Db,
    user: Actor,
    customer_id: String,
    action: &'static str,
    load: F,
) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn, &str) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    db.transaction(move |conn| {
        load_visible(conn, &user, &customer_id, action)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new(action, "customer", Some(&customer_id)).customer(&customer_id),
        )?;
        load(conn, &customer_id)
    })
    .await
}

/// A customer as the assessor registers them, already validated.
pub struct NewCustomer {
    pub personnummer: Personnummer,
    pub first_name: String,
    pub last_name: String,
    /// Street, postal code, city.
    pub address: (String, String, String),
    pub phone: Option<String>,
    pub area_id: String,
    pub ordinary_assessor_id: Option<String>,
    pub key_position: Option<String>,
    pub entry_notes: Option<String>,
    pub other_municipality: bool,
    /// A consent given now records who and when.
    pub consent_digital_lock: bool,
    pub consent_staff_unlock: bool,
    pub group_ids: Vec<String>,
}

/// A new customer, checked: the area, groups and ordinary assessor must exist
/// (and the assessor be one), the personnummer not be registered already.
/// The customer gets the next customer number.
pub async fn register(
    db: &Db,
    user: Actor,
    new: NewCustomer,
) -> Result<(CustomerRow, Vec<String>), AppError> {
    let now = db::now();
    let by = Some(user.id.clone());
    let (street, postal_code, city) = new.address;
    let row = CustomerRow {
        id: db::new_id(),
        customer_number: String::new(),
        personnummer: new.personnummer.canonical().to_string(),
        birth_date: new.personnummer.birth_date(),
        search_name: customers::search_name(&new.first_name, &new.last_name),
        first_name: new.first_name,
        last_name: new.last_name,
        street,
        postal_code,
        city,
        phone: new.phone,
        area_id: new.area_id,
        ordinary_assessor_id: new.ordinary_assessor_id,
        key_position: new.key_position,
        entry_notes: new.entry_notes,
        other_municipality: new.other_municipality,
        consent_digital_lock: new.consent_digital_lock,
        consent_digital_lock_at: new.consent_digital_lock.then_some(now),
        consent_digital_lock_by: new.consent_digital_lock.then(|| by.clone()).flatten(),
        consent_staff_unlock: new.consent_staff_unlock,
        consent_staff_unlock_at: new.consent_staff_unlock.then_some(now),
        consent_staff_unlock_by: new.consent_staff_unlock.then_some(by).flatten(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let group_ids = new.group_ids;
    db.transaction(move |conn| {
        check_references(
            conn,
            &row.area_id,
            &group_ids,
            row.ordinary_assessor_id.as_deref(),
        )?;
        if customers::find_by_personnummer(conn, &row.personnummer)?.is_some() {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                ErrorCode::CustomerExists,
                "A customer with this personnummer is already registered. Search for it instead.",
                "Det finns redan en brukare med detta personnummer. Sök fram den i stället.",
            ));
        }
        let mut row = row;
        row.customer_number = customers::next_customer_number(conn)?;
        customers::insert(conn, &row, &group_ids)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("customer.create", "customer", Some(&row.id)).customer(&row.id),
        )?;
        Ok((row, group_ids))
    })
    .await
}

/// One page of the customers the actor may see, each look audited, with
/// each one's groups and whether more follow.
pub async fn list(
    db: &Db,
    user: Actor,
    mut filter: ListFilter,
    limit: i64,
) -> Result<(Vec<CustomerRow>, Vec<(String, String)>, bool), AppError> {
    let scope = user.scope();
    filter.limit = limit + 1;
    db.read_audited(move |conn| {
        let mut rows = customers::list(conn, &scope, &filter)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let seen = audit::rows_of(
            &user,
            ids.iter()
                .map(|id| audit::Entry::new("customer.list", "customer", Some(id)).customer(id)),
        );
        let groups = customers::groups_of_many(conn, &ids)?;
        Ok(((rows, groups, more), seen))
    })
    .await
}

/// One customer's card and groups; the look audited.
pub async fn read(
    db: &Db,
    user: Actor,
    id: String,
) -> Result<(CustomerRow, Vec<String>), AppError> {
    db.transaction(move |conn| {
        let found = load_visible(conn, &user, &id, "customer.read")?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("customer.read", "customer", Some(&id)).customer(&id),
        )?;
        Ok(found)
    })
    .await
}

/// The customer's whole personnummer, shown for `reason`, which the audit
/// log keeps.
pub async fn reveal_personnummer(
    db: &Db,
    user: Actor,
    id: String,
    reason: String,
) -> Result<Personnummer, AppError> {
    db.transaction(move |conn| {
        let (row, _) = load_visible(conn, &user, &id, "customer.reveal_personnummer")?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("customer.reveal_personnummer", "customer", Some(&id))
                .customer(&id)
                .reason(Some(&reason)),
        )?;
        Ok(Personnummer::from_canonical(row.personnummer))
    })
    .await
}

/// What a change to a customer's card sets; `None` leaves a field as it is.
#[derive(Default)]
pub struct Changes {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Street, postal code, city.
    pub address: Option<(String, String, String)>,
    pub phone: Option<Option<String>>,
    pub key_position: Option<Option<String>>,
    pub entry_notes: Option<Option<String>>,
    pub area_id: Option<String>,
    pub ordinary_assessor_id: Option<Option<String>>,
    pub other_municipality: Option<bool>,
    /// A changed consent records who and when.
    pub consent_digital_lock: Option<bool>,
    pub consent_staff_unlock: Option<bool>,
    pub group_ids: Option<Vec<String>>,
}

/// Changes a customer the actor may see, if still at version `expected`.
pub async fn change(
    db: &Db,
    user: Actor,
    id: String,
    expected: i32,
    c: Changes,
) -> Result<(CustomerRow, Vec<String>), AppError> {
    db.transaction(move |conn| {
        let (mut row, mut groups) = load_visible(conn, &user, &id, "customer.update")?;
        if row.version != expected {
            return Err(AppError::stale_version(row.version));
        }
        let now = db::now();
        if let Some(v) = c.first_name {
            row.first_name = v;
        }
        if let Some(v) = c.last_name {
            row.last_name = v;
        }
        row.search_name = customers::search_name(&row.first_name, &row.last_name);
        if let Some(a) = c.address {
            (row.street, row.postal_code, row.city) = a;
        }
        if let Some(v) = c.phone {
            row.phone = v;
        }
        if let Some(v) = c.key_position {
            row.key_position = v;
        }
        if let Some(v) = c.entry_notes {
            row.entry_notes = v;
        }
        if let Some(v) = c.area_id {
            row.area_id = v;
        }
        if let Some(v) = c.ordinary_assessor_id {
            row.ordinary_assessor_id = v;
        }
        if let Some(v) = c.other_municipality {
            row.other_municipality = v;
        }
        if let Some(v) = c
            .consent_digital_lock
            .filter(|v| *v != row.consent_digital_lock)
        {
            row.consent_digital_lock = v;
            row.consent_digital_lock_at = Some(now);
            row.consent_digital_lock_by = Some(user.id.clone());
        }
        if let Some(v) = c
            .consent_staff_unlock
            .filter(|v| *v != row.consent_staff_unlock)
        {
            row.consent_staff_unlock = v;
            row.consent_staff_unlock_at = Some(now);
            row.consent_staff_unlock_by = Some(user.id.clone());
        }
        let groups_changed = c.group_ids.is_some();
        if let Some(g) = c.group_ids {
            groups = g;
        }
        check_references(
            conn,
            &row.area_id,
            &groups,
            row.ordinary_assessor_id.as_deref(),
        )?;
        row.version += 1;
        row.updated_at = now;
        if !customers::update_if_version(conn, &row, expected)? {
            return Err(AppError::stale_version(expected + 1));
        }
        if groups_changed {
            customers::set_groups(conn, &row.id, &groups)?;
        }
        audit::record(
            conn,
            &user,
            audit::Entry::new("customer.update", "customer", Some(&row.id)).customer(&row.id),
        )?;
        Ok((row, groups))
    })
    .await
}

fn check_references(
    conn: &mut DbConn,
    area_id: &str,
    group_ids: &[String],
    assessor_id: Option<&str>,
) -> Result<(), AppError> {
    if org::find_area(conn, area_id)?.is_none() {
        return Err(unknown_reference("area_id", "area", "området"));
    }
    if org::find_groups(conn, group_ids)?.len() != group_ids.len() {
        return Err(unknown_reference("group_ids", "group", "gruppen"));
    }
    if let Some(id) = assessor_id {
        let ok = users::find(conn, id)?
            .is_some_and(|u| u.active && may_hold(u.role, Duty::OrdinaryAssessor));
        if !ok {
            let mut p = Problems::default();
            p.add(
                "ordinary_assessor_id",
                "not_an_assessor",
                "must be an active user with the role assessor",
                "ska vara en aktiv användare med rollen handläggare",
            );
            p.finish()?;
        }
    }
    Ok(())
}
