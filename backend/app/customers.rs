//! Customers as the routines reach them: only those the actor may see, every
//! look audited.

use crate::db::{audit, customers, Db, DbConn};
use crate::domain::Actor;
use crate::error::AppError;
use crate::error::ErrorCode;

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
) -> Result<(customers::CustomerRow, Vec<String>), AppError> {
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
