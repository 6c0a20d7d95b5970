//! The documents' housekeeping: whether the files and the records agree, and
//! the retention rule (gallring).

use crate::db::{audit, documents, lifecycle, DbConn};
use crate::media;
use chrono::NaiveDate;
use serde::Serialize;

/// The start-up check: files without a row (a crash between the two) and rows
/// whose files are missing.
#[derive(Debug, Default, Serialize)]
pub struct StorageCheck {
    pub orphan_files: Vec<String>,
    pub missing_files: Vec<String>,
}

impl StorageCheck {
    /// `check-documents` exits with this: 0 all agree, 1 records lack files
    /// (proof lost: restore from backup), 2 only files without a record
    /// (an interrupted upload: safe to remove).
    pub fn exit_code(&self) -> i32 {
        if !self.missing_files.is_empty() {
            1
        } else if !self.orphan_files.is_empty() {
            2
        } else {
            0
        }
    }
}

pub fn check_storage(
    conn: &mut DbConn,
    store: &dyn media::storage::BlobStore,
) -> anyhow::Result<StorageCheck> {
    let hashes: std::collections::HashSet<String> =
        documents::all_hashes(conn)?.into_iter().collect();
    let mut report = StorageCheck::default();
    // Three listings, not a request per file: an object store answers a
    // listing of thousands of keys in one round trip.
    let mut stored = std::collections::HashSet::new();
    for prefix in ["originals", "display", "thumbs"] {
        for key in store.list(prefix)? {
            let name = key
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .trim_end_matches(".jpg");
            if !hashes.contains(name) {
                report.orphan_files.push(key.clone());
            }
            stored.insert(key);
        }
    }
    for sha in &hashes {
        for key in [
            media::original_key(sha),
            media::display_key(sha),
            media::thumb_key(sha),
        ] {
            if !stored.contains(&key) {
                report.missing_files.push(key);
            }
        }
    }
    report.missing_files.sort();
    Ok(report)
}

#[derive(Debug, Default, Serialize)]
pub struct WeedReport {
    /// Customers whose case closed more than the retention period ago.
    pub customers: Vec<String>,
    pub documents: usize,
    /// Files no remaining document uses, deleted after the rows are committed
    /// (a crash in between leaves orphans the start-up check reports, never a
    /// record without its files).
    pub files: Vec<String>,
    pub applied: bool,
}

/// The retention rule (gallring): documents of a customer whose case closed —
/// no open order, no running execution — more than `retention_days` ago are
/// deleted with their files. Nothing else ever deletes a document. The day the
/// case closed is the last execution's end date (or, with no execution, the
/// last closed order's date).
pub fn weed(
    conn: &mut DbConn,
    retention_days: i64,
    today: NaiveDate,
    apply: bool,
) -> anyhow::Result<WeedReport> {
    let mut report = WeedReport {
        applied: apply,
        ..Default::default()
    };
    for customer_id in documents::customers_with_documents(conn)? {
        let orders = lifecycle::list_orders(
            conn,
            &crate::domain::CustomerScope::All,
            &lifecycle::OrderFilter {
                customer_id: Some(customer_id.clone()),
                limit: 10_000,
                ..Default::default()
            },
        )?;
        let executions = lifecycle::executions_of(conn, &customer_id)?;
        let open = orders.iter().any(|o| !o.state.is_final())
            || executions.iter().any(|e| e.end_date.is_none());
        let closed_on = if executions.is_empty() {
            orders.iter().map(|o| o.updated_at.date()).max()
        } else {
            executions.iter().filter_map(|e| e.end_date).max()
        };
        let Some(closed_on) = closed_on.filter(|_| !open) else {
            continue;
        };
        if (today - closed_on).num_days() <= retention_days {
            continue;
        }
        report.documents += documents::of_customer(conn, &customer_id)?.len();
        if apply {
            let ctx = crate::domain::RequestContext {
                ip: None,
                request_id: Some("retention".into()),
            };
            for sha in documents::delete_of_customer(conn, &customer_id)? {
                if !documents::sha_in_use(conn, &sha)? {
                    report.files.extend([
                        media::original_key(&sha),
                        media::display_key(&sha),
                        media::thumb_key(&sha),
                    ]);
                }
            }
            audit::record_as(
                conn,
                None,
                "system",
                &ctx,
                audit::Entry::new("document.weed", "customer", Some(&customer_id))
                    .customer(&customer_id),
            )?;
        }
        report.customers.push(customer_id);
    }
    Ok(report)
}
