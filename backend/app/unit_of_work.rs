//! Units of work: blocking database work on actix's blocking pool, alone or
//! in one transaction, answering in `AppError`.

use crate::db::{self, audit, idempotency, Db, DbConn};
use crate::error::AppError;

impl Db {
    /// Runs blocking database work on actix's blocking pool, keeping the
    /// caller's tracing span so request ids follow the query.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let connector = self.connector();
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            let _entered = span.enter();
            let mut conn = connector.connect()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }

    /// Runs a read that shows personal data. `work` reads in one read
    /// transaction (beside other readers, not behind the single writer) and
    /// returns what it found with the audit rows of the look; the answer is
    /// released only once those rows are committed, together with the rows
    /// of every read that waited meanwhile (group commit).
    pub async fn read_audited<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<(T, Vec<audit::AuditRow>), AppError> + Send + 'static,
        T: Send + 'static,
    {
        use diesel::Connection;
        let (found, rows) = self.run(|conn| conn.transaction(work)).await?;
        self.read_log().write(rows).await.map_err(|e| match e {
            audit::WriteFailed::Unavailable(_) => AppError::database_unavailable(e),
            audit::WriteFailed::Failed(_) => AppError::internal(e),
        })?;
        Ok(found)
    }

    /// The database answers a trivial query (readiness); 503 when not.
    pub async fn ping(&self) -> Result<(), AppError> {
        use diesel::connection::SimpleConnection;
        self.run(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(AppError::database_unavailable)
        })
        .await
    }

    /// Runs blocking work in one transaction. An error rolls it back, except
    /// an access denial (`AppError::denied`): the audit entry recording the
    /// denied attempt is committed and the error still returned. A request
    /// under an `Idempotency-Key` marks its key committed in the same
    /// transaction.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let connector = self.connector();
        let claim = idempotency::CURRENT.try_with(Clone::clone).ok();
        self.run(move |conn| {
            connector.write_transaction(conn, |c| match work(c) {
                Ok(v) => {
                    if let Some(claim) = &claim {
                        idempotency::mark_committed(c, claim, db::now())?;
                    }
                    Ok(Ok(v))
                }
                Err(e) if e.is_denial() => Ok(Err(e)),
                Err(e) => Err(e),
            })
        })
        .await
    }
}
