//! The database: SQLite (embedded default) or PostgreSQL, chosen from the URL,
//! behind one diesel `MultiConnection` so every query is written once.

/// The one SQL form of customer visibility: restricts a query to the
/// customers a [`CustomerScope`](crate::domain::CustomerScope) admits.
/// `customers` when the query is over the customers table (or joins it);
/// otherwise the column holding the customer's id. Field roles' groups are
/// tested with EXISTS, not IN: SQLite would first list every customer the
/// groups serve.
macro_rules! visible_to {
    ($q:expr, $scope:expr, customers) => {{
        use $crate::db::schema::{customer_groups, customers};
        use $crate::domain::CustomerScope;
        match $scope {
            CustomerScope::All => $q,
            CustomerScope::Areas(areas) => $q.filter(customers::area_id.eq_any(areas.clone())),
            CustomerScope::Groups(groups) => $q.filter(diesel::dsl::exists(
                customer_groups::table
                    .filter(customer_groups::customer_id.eq(customers::id))
                    .filter(customer_groups::group_id.eq_any(groups.clone())),
            )),
        }
    }};
    ($q:expr, $scope:expr, $customer_id:expr) => {{
        use $crate::db::schema::{customer_groups, customers};
        use $crate::domain::CustomerScope;
        match $scope {
            CustomerScope::All => $q,
            CustomerScope::Areas(areas) => $q.filter(
                $customer_id.eq_any(
                    customers::table
                        .filter(customers::area_id.eq_any(areas.clone()))
                        .select(customers::id),
                ),
            ),
            CustomerScope::Groups(groups) => $q.filter(diesel::dsl::exists(
                customer_groups::table
                    .filter(customer_groups::customer_id.eq($customer_id))
                    .filter(customer_groups::group_id.eq_any(groups.clone())),
            )),
        }
    }};
}

pub mod audit;
pub mod custody;
pub mod customers;
pub mod documents;
pub mod idempotency;
pub mod lifecycle;
pub mod messages;
pub mod oidc;
pub mod org;
pub mod outbox;
pub mod reports;
pub mod schema;
mod stored;
pub mod tokens;
pub mod users;

use chrono::{DateTime, SubsecRound, Utc};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a request waits for a pooled connection when the pool is busy.
const CHECKOUT_WAIT: Duration = Duration::from_secs(10);
/// The wait is taken in slices; between them a failed connection attempt ends it
/// (503 at once while the database is down, not after ten seconds).
const CHECKOUT_SLICE: Duration = Duration::from_millis(250);

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The versions of the SQLite migrations this binary carries (a backup made
/// by a newer release names others).
pub fn known_sqlite_migrations() -> Vec<String> {
    use diesel::migration::MigrationSource;
    MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default()
}

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Where the data lives, decided from the URL's scheme, never by trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseTarget {
    /// `postgres://` and `postgresql://` select PostgreSQL; `sqlite://PATH` or
    /// `sqlite:PATH` select SQLite. Anything else is refused, so a typo such as
    /// `postgress://` cannot quietly become a new SQLite file.
    pub fn from_url(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                format!(
                    "DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got scheme '{}')",
                    url.split(':').next().unwrap_or_default()
                )
            })?;
        if path.is_empty() || path.contains(":memory:") {
            return Err(
                "a SQLite DATABASE_URL needs a file path (in-memory databases lose data)".into(),
            );
        }
        let path = PathBuf::from(path);
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(format!(
                "the folder for the SQLite database does not exist: {} (create it, or fix the path)",
                parent.display()
            ));
        }
        Ok(Self::Sqlite(path))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgresql",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// A description safe for logs: no password.
    pub fn describe(&self) -> String {
        match self {
            Self::Postgres(url) => {
                let host = url
                    .rsplit('@')
                    .next()
                    .unwrap_or("")
                    .split('?')
                    .next()
                    .unwrap_or("");
                format!("postgresql ({host})")
            }
            Self::Sqlite(path) => format!("sqlite ({})", path.display()),
        }
    }
}

pub struct ConnectionManager {
    target: DatabaseTarget,
    /// The last attempt to connect failed: the database is down or unreachable.
    unreachable: Arc<AtomicBool>,
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConn, r2d2::Error> {
        match &self.target {
            DatabaseTarget::Postgres(url) => {
                let mut conn =
                    diesel::PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                // diesel keeps statements prepared; after five runs PostgreSQL may switch to a
                // generic plan that cannot see which states are rare (the reports benchmark:
                // 0.9 s instead of 50 ms). Planning each run costs about a millisecond.
                conn.batch_execute("SET plan_cache_mode = force_custom_plan")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Postgres(conn))
            }
            DatabaseTarget::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first: WAL itself may wait on another connection.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        let conn = self.open();
        self.unreachable.store(conn.is_err(), Ordering::Relaxed);
        conn
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    /// A connection whose transaction could not be rolled back (the server
    /// went away mid-transaction) is dropped, not handed to the next request.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// How long requests waited for a pooled connection, for the metrics.
#[derive(Debug, Default)]
pub struct PoolWaits {
    pub checkouts: std::sync::atomic::AtomicU64,
    pub waited_micros: std::sync::atomic::AtomicU64,
}

/// The shared pool. Cloning is cheap.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager>,
    backend: &'static str,
    /// SQLite has one writer at a time. Write transactions queue here, so a
    /// transaction never starts as a reader and then fails to upgrade (which
    /// SQLite reports as "database is locked" without waiting).
    sqlite_writer: Option<Arc<Mutex<()>>>,
    unreachable: Arc<AtomicBool>,
    waits: Arc<PoolWaits>,
    /// Started on first use: the command line never needs it.
    read_log: Arc<std::sync::OnceLock<audit::ReadLog>>,
}

impl Db {
    pub fn connect(target: DatabaseTarget, pool_size: u32) -> anyhow::Result<Self> {
        let backend = target.backend_name();
        let sqlite_writer =
            matches!(target, DatabaseTarget::Sqlite(_)).then(|| Arc::new(Mutex::new(())));
        let unreachable = Arc::new(AtomicBool::new(false));
        let pool = Pool::builder()
            .max_size(pool_size)
            // r2d2 retries a failed connection with a back-off of at most half
            // this: the server is back within about a second of its database.
            .connection_timeout(Duration::from_secs(2))
            .test_on_check_out(true)
            // `build` waits for the pool's first connections: a wrong URL or an
            // unreachable database stops the start, and no connection attempt is
            // still running on r2d2's threads when a short command exits (libpq
            // torn down under a connecting thread crashed the process).
            .build(ConnectionManager {
                target,
                unreachable: unreachable.clone(),
            })?;
        Ok(Self {
            pool,
            backend,
            sqlite_writer,
            unreachable,
            waits: Arc::default(),
            read_log: Arc::default(),
        })
    }

    /// Where reads' audit entries go to be committed together.
    pub fn read_log(&self) -> &audit::ReadLog {
        self.read_log
            .get_or_init(|| audit::ReadLog::start(self.connector()))
    }

    /// A pooled connection: waits up to `CHECKOUT_WAIT` for a busy pool, but
    /// gives up as soon as connecting fails.
    fn checkout(
        pool: &Pool<ConnectionManager>,
        unreachable: &AtomicBool,
        waits: &PoolWaits,
    ) -> Result<r2d2::PooledConnection<ConnectionManager>, r2d2::PoolError> {
        let started = Instant::now();
        let deadline = started + CHECKOUT_WAIT;
        let result = loop {
            match pool.get_timeout(CHECKOUT_SLICE) {
                Err(e) if !unreachable.load(Ordering::Relaxed) && Instant::now() < deadline => {
                    drop(e)
                }
                result => break result,
            }
        };
        waits.checkouts.fetch_add(1, Ordering::Relaxed);
        waits
            .waited_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        result
    }

    /// Checkouts so far and the time they waited.
    pub fn pool_waits(&self) -> Arc<PoolWaits> {
        self.waits.clone()
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The pool now: connections open, and of those idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    /// Applies every pending migration; returns the versions applied.
    pub fn migrate(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.get()?;
        let applied = match &mut *conn {
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(applied.into_iter().map(|v| v.to_string()).collect())
    }

    /// Reverts every migration (used by the migration round-trip test).
    pub fn revert_all(&self) -> anyhow::Result<()> {
        let mut conn = self.get()?;
        match &mut *conn {
            DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
            DbConn::Postgres(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
        }
        .map_err(|e| anyhow::anyhow!("revert failed: {e}"))
    }

    /// What a unit of work needs to take a connection on another thread.
    pub fn connector(&self) -> Connector {
        Connector {
            pool: self.pool.clone(),
            sqlite_writer: self.sqlite_writer.clone(),
            unreachable: self.unreachable.clone(),
            waits: self.waits.clone(),
        }
    }

    /// For the command line and start-up, outside actix.
    pub fn get(&self) -> anyhow::Result<r2d2::PooledConnection<ConnectionManager>> {
        Ok(Self::checkout(&self.pool, &self.unreachable, &self.waits)?)
    }
}

/// The database's own failures, which `error.rs` turns into answers.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be had: the database is down, unreachable or
    /// every connection stayed busy.
    #[error("no database connection: {0}")]
    Unavailable(#[from] r2d2::PoolError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Takes pooled connections for units of work on other threads. Cloning is cheap.
#[derive(Clone)]
pub struct Connector {
    pool: Pool<ConnectionManager>,
    sqlite_writer: Option<Arc<Mutex<()>>>,
    unreachable: Arc<AtomicBool>,
    waits: Arc<PoolWaits>,
}

impl Connector {
    /// A pooled connection: waits up to `CHECKOUT_WAIT` for a busy pool, but
    /// gives up as soon as connecting fails.
    pub fn connect(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        Ok(Db::checkout(&self.pool, &self.unreachable, &self.waits)?)
    }

    /// Runs `work` in one write transaction. On SQLite, write transactions take
    /// turns (one writer at a time) and take the write lock at BEGIN
    /// (IMMEDIATE): a deferred transaction that read first could not upgrade
    /// once another connection had written meanwhile (SQLITE_BUSY_SNAPSHOT, no
    /// waiting) — a 500 under concurrent requests.
    ///
    /// `work` answers `Ok(Ok(v))` to commit and return `v`, `Ok(Err(e))` to
    /// commit what it wrote and still return `e`, and `Err(e)` to roll back.
    pub fn write_transaction<T, E>(
        &self,
        conn: &mut DbConn,
        work: impl FnOnce(&mut DbConn) -> Result<Result<T, E>, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        let _turn = self
            .sqlite_writer
            .as_ref()
            .map(|w| w.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let immediate = match conn {
            DbConn::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
                true
            }
            DbConn::Postgres(_) => false,
        };
        let result = conn.transaction(work);
        if immediate {
            match &result {
                Ok(_) => <DbConn as Connection>::TransactionManager::commit_transaction(conn)?,
                Err(_) => <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?,
            }
        }
        result?
    }
}

/// Now, in UTC, truncated to microseconds so both backends store the same value.
pub fn now() -> chrono::NaiveDateTime {
    utc_now().naive_utc()
}

pub fn utc_now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_the_backend() {
        assert!(matches!(
            DatabaseTarget::from_url("postgres://u@h/db"),
            Ok(DatabaseTarget::Postgres(_))
        ));
        assert!(matches!(
            DatabaseTarget::from_url("postgresql://u@h/db"),
            Ok(DatabaseTarget::Postgres(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/x.db", dir.path().display());
        assert_eq!(
            DatabaseTarget::from_url(&url),
            Ok(DatabaseTarget::Sqlite(dir.path().join("x.db")))
        );
    }

    #[test]
    fn a_typo_is_refused_rather_than_creating_a_file() {
        for bad in [
            "postgress://u@h/db",
            "/tmp/x.db",
            "mysql://h/db",
            "sqlite://",
            "sqlite::memory:",
        ] {
            assert!(DatabaseTarget::from_url(bad).is_err(), "{bad}");
        }
        assert!(DatabaseTarget::from_url("sqlite:///no/such/folder/x.db")
            .unwrap_err()
            .contains("does not exist"));
    }

    #[test]
    fn an_unreachable_database_is_reported_at_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = DatabaseTarget::from_url(&format!("postgres://u@127.0.0.1:{port}/x")).unwrap();
        let started = Instant::now();
        assert!(Db::connect(target, 2).is_err());
        assert!(
            started.elapsed() < CHECKOUT_WAIT / 2,
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn description_hides_the_password() {
        let t = DatabaseTarget::from_url("postgres://app:s3cret@db.local:5432/larmkoll").unwrap();
        assert!(!t.describe().contains("s3cret"));
        assert!(t.describe().contains("db.local"));
    }
}
