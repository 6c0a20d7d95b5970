//! The audit log as the admin follows it up (logguppföljning).

use crate::db::{audit, Db};
use crate::error::AppError;

pub use crate::db::audit::{AuditRow, Filter};

/// The entries the filter selects, newest first.
pub async fn entries(db: &Db, filter: Filter) -> Result<Vec<AuditRow>, AppError> {
    db.run(move |conn| Ok(audit::query(conn, &filter)?)).await
}
