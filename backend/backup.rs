//! Backup and restore of the embedded system: the SQLite database, the
//! documents and the token-signing key, with a manifest that proves a copy
//! whole. PostgreSQL and an S3 bucket have better tools of their own
//! (`pg_dump` or continuous archiving; bucket versioning), and `backup` says
//! so rather than copy half a system.

use crate::config::{DocumentStore, Settings};
use crate::db::{self, DatabaseTarget, Db, DbConn};
use crate::media;
use anyhow::{bail, Context};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "larmkoll.db";
const DOCUMENTS: &str = "documents";
const SIGNING_KEY: &str = "jwt-signing.key";

/// What a backup holds and how to tell it is whole.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub larmkoll_version: String,
    /// The migrations applied to the copied database.
    pub schema_versions: Vec<String>,
    pub counts: Counts,
    /// Every file of the backup but the manifest, by its path inside it.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub customers: i64,
    pub orders: i64,
    pub keys: i64,
    pub documents: i64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} users, {} customers, {} orders, {} keys, {} documents",
            self.users, self.customers, self.orders, self.keys, self.documents
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What `verify-backup` found: nothing in `problems` means whole.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub files_checked: usize,
    pub schema_versions: usize,
    pub problems: Vec<String>,
}

/// Takes a consistent copy of the running system into `dir` (new or empty):
/// the database through `VACUUM INTO` (one read snapshot, while the server
/// goes on writing), then exactly the document files that snapshot names, and
/// the signing key.
pub fn backup(
    settings: &Settings,
    target: &DatabaseTarget,
    db: &Db,
    dir: &Path,
) -> anyhow::Result<Manifest> {
    if let DatabaseTarget::Postgres(_) = target {
        bail!(
            "the database is PostgreSQL: back it up with pg_dump (or continuous archiving for point-in-time recovery), \
             and the data directory's jwt-signing.key with it. `larmkoll backup` copies the embedded SQLite system only"
        );
    }
    if let DocumentStore::S3 { .. } = settings.document_store {
        bail!(
            "the documents are in an S3 bucket: keep them with the bucket's versioning or replication. \
             `larmkoll backup` copies the embedded system (SQLite and local documents) only"
        );
    }
    empty_dir(dir)?;
    let copy = dir.join(DATABASE);
    {
        let mut conn = db.get()?;
        let path = copy
            .to_str()
            .context("the backup folder's path is not UTF-8")?;
        diesel::sql_query(format!("VACUUM INTO '{}'", path.replace('\'', "''")))
            .execute(&mut *conn)
            .context("copying the database")?;
    }
    let mut snapshot = open_copy(&copy)?;
    let hashes = db::documents::all_hashes(&mut snapshot)?;
    let documents = settings.data_dir.join(DOCUMENTS);
    for sha in &hashes {
        for key in [
            media::original_key(sha),
            media::display_key(sha),
            media::thumb_key(sha),
        ] {
            let from = documents.join(&key);
            let to = dir.join(DOCUMENTS).join(&key);
            let bytes = std::fs::read(&from).with_context(|| {
                format!("document file {key} is missing (removed while the backup ran?); run the backup again")
            })?;
            write_private(&to, &bytes)?;
        }
    }
    let key =
        std::fs::read(settings.data_dir.join(SIGNING_KEY)).context("reading jwt-signing.key")?;
    write_private(&dir.join(SIGNING_KEY), &key)?;
    let manifest = Manifest {
        format: 1,
        created_at: chrono::Utc::now(),
        larmkoll_version: env!("CARGO_PKG_VERSION").into(),
        schema_versions: schema_versions(&mut snapshot)?,
        counts: counts(&mut snapshot)?,
        files: files_of(dir)?,
    };
    write_private(&dir.join(MANIFEST), &serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

/// Checks a backup: every file the manifest names, with its size and SHA-256,
/// nothing it does not name, the database's own integrity check, every
/// document the database names present, and a schema this binary knows.
pub fn verify(dir: &Path) -> anyhow::Result<Verdict> {
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join(MANIFEST))
            .with_context(|| format!("no {MANIFEST} in {}", dir.display()))?,
    )
    .context("the manifest cannot be read")?;
    let mut problems = Vec::new();
    for f in &manifest.files {
        match std::fs::read(dir.join(&f.path)) {
            Err(_) => problems.push(format!("{}: missing", f.path)),
            Ok(bytes) if bytes.len() as u64 != f.bytes => problems.push(format!(
                "{}: {} bytes, the manifest says {}",
                f.path,
                bytes.len(),
                f.bytes
            )),
            Ok(bytes) if hex::encode(Sha256::digest(&bytes)) != f.sha256 => problems.push(format!(
                "{}: its SHA-256 differs from the manifest's",
                f.path
            )),
            Ok(_) => {}
        }
    }
    let listed: std::collections::HashSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    for f in files_of(dir)? {
        if !listed.contains(f.path.as_str()) {
            problems.push(format!("{}: not in the manifest", f.path));
        }
    }
    let known = db::known_sqlite_migrations();
    for v in &manifest.schema_versions {
        if !known.contains(v) {
            problems.push(format!(
                "schema version {v} is newer than this larmkoll ({}); restore with the release that made the backup",
                env!("CARGO_PKG_VERSION")
            ));
        }
    }
    if problems.is_empty() {
        let mut snapshot = open_copy(&dir.join(DATABASE))?;
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut snapshot)?;
        if check.iter().any(|c| c.integrity_check != "ok") {
            problems.push("larmkoll.db: SQLite's integrity check fails".into());
        }
        for sha in db::documents::all_hashes(&mut snapshot)? {
            for key in [
                media::original_key(&sha),
                media::display_key(&sha),
                media::thumb_key(&sha),
            ] {
                if !listed.contains(format!("{DOCUMENTS}/{key}").as_str()) {
                    problems.push(format!(
                        "{DOCUMENTS}/{key}: the database names it, the backup lacks it"
                    ));
                }
            }
        }
        if schema_versions(&mut snapshot)? != manifest.schema_versions {
            problems.push("larmkoll.db: its migrations differ from the manifest's".into());
        }
    }
    Ok(Verdict {
        files_checked: manifest.files.len(),
        schema_versions: manifest.schema_versions.len(),
        problems,
    })
}

/// Restores a verified backup into an empty data directory (the configured
/// one, on the embedded database). Refuses a backup that does not verify, or
/// a data directory that holds anything.
pub fn restore(settings: &Settings, dir: &Path) -> anyhow::Result<Manifest> {
    let target =
        DatabaseTarget::from_url(&settings.effective_database_url()).map_err(anyhow::Error::msg)?;
    if settings.database_url.is_some() || settings.document_store != DocumentStore::Local {
        bail!("restore puts the embedded system back: unset DATABASE_URL and LARMKOLL_DOCUMENT_STORE (PostgreSQL: pg_restore)");
    }
    let verdict = verify(dir)?;
    if !verdict.problems.is_empty() {
        bail!(
            "the backup in {} is not whole; nothing was restored:\n  {}",
            dir.display(),
            verdict.problems.join("\n  ")
        );
    }
    let data = &settings.data_dir;
    empty_dir(data).context("restore needs an empty data directory")?;
    let DatabaseTarget::Sqlite(database) = target else {
        unreachable!("the embedded default is SQLite")
    };
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(dir.join(MANIFEST))?)?;
    for f in &manifest.files {
        let to = if f.path == DATABASE {
            database.clone()
        } else {
            data.join(&f.path)
        };
        write_private(&to, &std::fs::read(dir.join(&f.path))?)?;
    }
    Ok(manifest)
}

/// `dir` made if absent; refused if it holds anything.
fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if std::fs::read_dir(dir)?.next().is_some() {
            bail!("{} is not empty", dir.display());
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    Ok(())
}

fn open_copy(path: &Path) -> anyhow::Result<DbConn> {
    let url = path.to_str().context("path is not UTF-8")?;
    Ok(DbConn::Sqlite(
        diesel::SqliteConnection::establish(url)
            .with_context(|| format!("opening {}", path.display()))?,
    ))
}

fn schema_versions(conn: &mut DbConn) -> anyhow::Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let rows: Vec<Row> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
            .load(conn)?;
    Ok(rows.into_iter().map(|r| r.version).collect())
}

fn counts(conn: &mut DbConn) -> anyhow::Result<Counts> {
    let mut count = |table: &str| -> anyhow::Result<i64> {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N =
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(conn)?;
        Ok(n.n)
    };
    Ok(Counts {
        users: count("users")?,
        customers: count("customers")?,
        orders: count("orders")?,
        keys: count("keys")?,
        documents: count("documents")?,
    })
}

/// Every file under `dir` but the manifest, sorted, with size and SHA-256.
fn files_of(dir: &Path) -> anyhow::Result<Vec<FileEntry>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
        Ok(())
    }
    let mut paths = Vec::new();
    walk(dir, dir, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p != Path::new(MANIFEST))
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p))?;
            Ok(FileEntry {
                path: p.to_string_lossy().into_owned(),
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
            })
        })
        .collect()
}

/// Writes a file only its owner reads (0600; folders 0700), synced to disk.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
