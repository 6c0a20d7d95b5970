//! The `larmkoll` command: serve, migrate, the documents (openapi,
//! lifecycle), users, the key import, follow-up, documents' checks, backup.

use actix_web::{web, HttpServer};
use clap::{Parser, Subcommand};
use larmkoll::config::{self, Settings};
use larmkoll::db::{DatabaseTarget, Db};
use larmkoll::domain::Role;
use larmkoll::state::AppState;
use larmkoll::{api, app, auth, build_app, demo};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "larmkoll", version, about = "Safety alarms, digital locks and keys: from decision to return", after_help = config::help())]
struct Cli {
    /// Optional TOML settings file.
    #[arg(long, global = true, env = config::CONFIG_VARIABLE)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default). Migrations run first.
    Serve {
        /// Load a fictional demo municipality in motion into an empty database and accept the demo password.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (`larmkoll openapi > openapi/openapi.json`).
    Openapi,
    /// Print the order lifecycle as served at /api/v1/lifecycle
    /// (`larmkoll lifecycle > openapi/lifecycle.json`).
    Lifecycle,
    /// Create a user. The password is read from LARMKOLL_NEW_PASSWORD or
    /// standard input, unless `--external-id` is given and `--no-password` too.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// admin, assessor, coordinator, installer, care_staff, billing, alarm_center
        #[arg(long)]
        role: Role,
        #[arg(long)]
        alarm_lead: bool,
        /// The identity they sign in with at the identity provider (the matched claim's value).
        #[arg(long)]
        external_id: Option<String>,
        /// Sign in only through the identity provider (needs `--external-id`).
        #[arg(long, requires = "external_id")]
        no_password: bool,
    },
    /// Compare document files with the database: files without a record (an
    /// interrupted upload) and records without files. Prints JSON; exits 1 on
    /// records without files, 2 on files without a record only, 0 when all agree.
    CheckDocuments,
    /// Apply the retention rule: delete the documents of customers whose case
    /// closed more than LARMKOLL_DOCUMENT_RETENTION_DAYS ago. Dry run unless --apply.
    WeedDocuments {
        #[arg(long)]
        apply: bool,
    },
    /// Take a consistent copy of the running system (SQLite database,
    /// documents, signing key) into DIR, new or empty, with a manifest of
    /// every file's SHA-256. PostgreSQL and S3: says which tool to use instead.
    Backup { dir: PathBuf },
    /// Check a backup against its manifest and the database inside it.
    /// Prints JSON; exits 1 when anything is wrong.
    VerifyBackup { dir: PathBuf },
    /// Restore a backup into an empty data directory (LARMKOLL_DATA_DIR);
    /// refuses one that does not verify or was made by a newer release.
    Restore { dir: PathBuf },
    /// Run the follow-up rules once (the server also runs them on a timer).
    /// --today sets the date they are evaluated for.
    FollowUp {
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
    },
    /// Import the existing key register from .xlsx or CSV. Reports row by row;
    /// with --apply writes all rows, or none if any is wrong.
    ImportKeys {
        file: PathBuf,
        /// The admin or coordinator the import is recorded as.
        #[arg(long = "as")]
        as_user: String,
        #[arg(long)]
        apply: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { demo: false });
    match command {
        Command::Openapi => {
            print!("{}", api::openapi_json());
            return Ok(());
        }
        Command::Lifecycle => {
            print!("{}", api::lifecycle::lifecycle_json());
            return Ok(());
        }
        _ => {}
    }
    // The database, its journal, the originals and the signing key hold
    // personal data: whatever the caller's umask, nothing the server creates
    // is readable by another local account (files 0600, folders 0700).
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let settings = Settings::load(cli.config.as_deref())?;
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| config::DEFAULT_LOG_FILTER.into()),
        );
    match settings.log_format {
        config::LogFormat::Text => logs.init(),
        // One object per line: the event's fields at the top, the request's
        // (method, route, request id, user id) under `span`.
        config::LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    // These two touch no database of the data directory's: a restore needs it empty.
    match &command {
        Command::VerifyBackup { dir } => {
            let verdict = larmkoll::backup::verify(dir)?;
            println!("{}", serde_json::to_string_pretty(&verdict)?);
            if !verdict.problems.is_empty() {
                std::process::exit(1);
            }
            return Ok(());
        }
        Command::Restore { dir } => {
            let m = larmkoll::backup::restore(&settings, dir)?;
            println!(
                "Restored the backup of {} into {}: {}; {} files verified.",
                m.created_at.format("%Y-%m-%d %H:%M UTC"),
                settings.data_dir.display(),
                m.counts,
                m.files.len()
            );
            return Ok(());
        }
        _ => {}
    }
    prepare_data_dir(&settings)?;
    let target =
        DatabaseTarget::from_url(&settings.effective_database_url()).map_err(anyhow::Error::msg)?;
    tracing::info!(database = %target.describe(), "connecting");
    let db = Db::connect(target.clone(), settings.db_pool_size)?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "applied migrations");
    }
    match command {
        Command::Migrate => {
            println!(
                "{}: {} migration(s) applied, schema up to date.",
                target.describe(),
                applied.len()
            );
            Ok(())
        }
        Command::CreateUser {
            username,
            display_name,
            role,
            alarm_lead,
            external_id,
            no_password,
        } => {
            let password = if no_password {
                None
            } else {
                Some(read_new_password()?)
            };
            let mut conn = db.get()?;
            let (user, _) = diesel::Connection::transaction(&mut *conn, |c| {
                app::org::create_user(
                    c,
                    app::org::UserDraft {
                        username,
                        display_name,
                        password,
                        role,
                        alarm_lead,
                        group_ids: vec![],
                        external_id,
                    },
                    None,
                )
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Created user {} ({}) with id {}.",
                user.username, user.role, user.id
            );
            Ok(())
        }
        Command::FollowUp { today } => {
            let today = today.unwrap_or_else(larmkoll::domain::calendar::today);
            let mut pooled = db.get()?;
            let conn: &mut larmkoll::db::DbConn = &mut pooled;
            let fired = app::followup::run(conn, today, settings.escalation_days)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("{}", serde_json::to_string_pretty(&fired)?);
            Ok(())
        }
        Command::WeedDocuments { apply } => {
            let store = larmkoll::media::open_store(&settings)?;
            let mut pooled = db.get()?;
            let conn: &mut larmkoll::db::DbConn = &mut pooled;
            let today = larmkoll::domain::calendar::today();
            let days = settings.document_retention_days;
            let report = diesel::Connection::transaction(conn, |c| {
                app::documents::weed(c, days, today, apply)
            })?;
            for key in &report.files {
                store.delete(key)?;
            }
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Backup { dir } => {
            let m = larmkoll::backup::backup(&settings, &target, &db, &dir)?;
            println!(
                "Backed up into {}: {}; {} files, each with its SHA-256 in manifest.json.",
                dir.display(),
                m.counts,
                m.files.len()
            );
            Ok(())
        }
        Command::VerifyBackup { .. } | Command::Restore { .. } => unreachable!("handled above"),
        Command::CheckDocuments => {
            let store = larmkoll::media::open_store(&settings)?;
            let mut conn = db.get()?;
            let report = app::documents::check_storage(&mut conn, store.as_ref())?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            match report.exit_code() {
                0 => Ok(()),
                code => std::process::exit(code),
            }
        }
        Command::ImportKeys {
            file,
            as_user,
            apply,
        } => import_keys(&db, &file, &as_user, apply),
        Command::Serve { demo } => serve(settings, db, &target, demo),
        Command::Openapi | Command::Lifecycle => unreachable!("handled above"),
    }
}

fn import_keys(db: &Db, file: &std::path::Path, username: &str, apply: bool) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut conn = db.get()?;
    let user = larmkoll::auth::Actor::load_by_username(&mut conn, username)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("no active user '{username}'"))?;
    if !larmkoll::auth::allows(user.role, larmkoll::auth::Action::ImportKeyRegister) {
        anyhow::bail!(
            "{username} is a {}; only an admin or a coordinator imports the key register",
            user.role
        );
    }
    let result =
        diesel::Connection::transaction(&mut *conn, |c| app::import::run(c, &user, &bytes, apply));
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let p = e.to_problem();
            eprintln!("{}", p.detail);
            for f in p.errors {
                eprintln!("  {}: {}", f.field, f.detail);
            }
            std::process::exit(1);
        }
    };
    for r in &report.rows {
        let what = format!("{:?}", r.outcome).to_lowercase();
        println!(
            "row {:>4}  {:<6}  {:<12} {:<10} {}",
            r.row,
            what,
            r.key_number.as_deref().unwrap_or("-"),
            r.customer_number.as_deref().unwrap_or("-"),
            r.problems
                .iter()
                .map(|p| p.detail.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    println!(
        "{} key(s) {}, {} item(s) placed, {} row(s) wrong.",
        report.keys_to_create,
        if report.applied {
            "imported"
        } else {
            "would be imported (dry run; --apply writes)"
        },
        report.items_to_place,
        report.errors
    );
    if report.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// The default data directory is created on first start (0700); a configured
/// one must exist, so a typo cannot start an empty system somewhere else.
fn prepare_data_dir(settings: &Settings) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if settings.data_dir.is_dir() {
        let mode = std::fs::metadata(&settings.data_dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                data_dir = %settings.data_dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory is open to other local accounts; `chmod 700` it"
            );
        }
        return Ok(());
    }
    if settings.data_dir == Settings::default().data_dir {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&settings.data_dir)?;
        return Ok(());
    }
    anyhow::bail!(
        "LARMKOLL_DATA_DIR {} does not exist; create it first (a typo must not start an empty system)",
        settings.data_dir.display()
    )
}

/// Runs the follow-up rules now and then on a timer. Safe with several
/// instances: each rule claims its (order, period) in the database.
fn spawn_follow_up(
    db: Db,
    metrics: std::sync::Arc<larmkoll::metrics::Metrics>,
    every_minutes: u64,
    escalation_days: i64,
) {
    actix_web::rt::spawn(async move {
        let mut tick =
            actix_web::rt::time::interval(std::time::Duration::from_secs(every_minutes * 60));
        loop {
            tick.tick().await;
            let db = db.clone();
            let today = larmkoll::domain::calendar::today();
            let result = web::block(move || -> anyhow::Result<usize> {
                let mut pooled = db.get()?;
                let conn: &mut larmkoll::db::DbConn = &mut pooled;
                let fired = app::followup::run(conn, today, escalation_days)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                Ok(fired.len())
            })
            .await;
            metrics.followup_run(match &result {
                Ok(Ok(n)) => Some(*n),
                _ => None,
            });
            match result {
                Ok(Ok(n)) if n > 0 => tracing::info!(fired = n, "follow-up rules fired"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "follow-up failed"),
                Err(e) => tracing::error!(error = %e, "follow-up task failed"),
            }
        }
    });
}

fn read_new_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("LARMKOLL_NEW_PASSWORD") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        eprint!("Password (at least 10 characters): ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

#[actix_web::main]
async fn serve(
    settings: Settings,
    db: Db,
    target: &DatabaseTarget,
    demo: bool,
) -> anyhow::Result<()> {
    let mut demo_loaded = None;
    if demo {
        let seed_db = db.clone();
        demo_loaded = web::block(move || demo::load_if_empty(&seed_db)).await??;
        if demo_loaded.is_none() {
            tracing::info!("database already has users; demo data not loaded");
        }
    }
    let keys = auth::jwt::TokenKeys::load_or_create(&settings.data_dir)?;
    let listen = settings.listen;
    let state = web::Data::new(AppState::new(db, keys, settings, demo)?);
    // The base demo just loaded: bring it to life as of today, through the routines.
    let demo_line = match demo_loaded {
        Some(loaded) => {
            let started = std::time::Instant::now();
            let alive = demo::bring_to_life(&state, larmkoll::domain::calendar::today())
                .await
                .map_err(|e| anyhow::anyhow!("bringing the demo to life: {e:?}"))?;
            let took = started.elapsed().as_secs_f64();
            tracing::info!(
                customers = loaded.customers + alive.customers,
                orders = alive.orders,
                seconds = took,
                "loaded demo data"
            );
            Some(format!(
                "  Demo: {} kunder, {} beställningar, {} nycklar, {} dokument (laddat på {} s)",
                loaded.customers + alive.customers,
                alive.orders,
                alive.keys,
                alive.documents,
                format!("{took:.1}").replace('.', ",")
            ))
        }
        None if demo => {
            Some("  Demo: databasen har redan användare; inget demodata laddades".into())
        }
        None => None,
    };
    if state.settings.followup_interval_minutes > 0 {
        spawn_follow_up(
            state.db.clone(),
            state.metrics.clone(),
            state.settings.followup_interval_minutes,
            state.settings.escalation_days,
        );
    }
    // Mails and webhook deliveries leave through the outbox, never in a request.
    let _dispatcher = app::outbox::spawn_dispatcher(state.db.clone(), state.settings.clone())?;
    // Files without a row are what a crash between the two leaves; report them.
    let (check_db, check_store) = (state.db.clone(), state.store.clone());
    let check = web::block(move || -> anyhow::Result<_> {
        let mut conn = check_db.get()?;
        app::documents::check_storage(&mut conn, check_store.as_ref())
    })
    .await??;
    if !check.orphan_files.is_empty() || !check.missing_files.is_empty() {
        tracing::warn!(
            orphan_files = check.orphan_files.len(),
            missing_files = check.missing_files.len(),
            "document storage and database disagree: files without a record (an interrupted upload) or records without files"
        );
    }
    let server = HttpServer::new({
        let state = state.clone();
        move || build_app(state.clone())
    })
    .shutdown_timeout(state.settings.shutdown_grace_seconds)
    .disable_signals()
    .bind(listen)
    .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let base = format!("http://{listen}");
    println!();
    println!("  Larmkoll is running on {} ({})", base, target.describe());
    println!("  Field app:  {base}/");
    println!("  Desk:       {base}/desk/");
    println!("  API docs:   {base}/docs/");
    println!("  OpenAPI:    {base}/api/v1/openapi.json");
    match &state.settings.document_store {
        larmkoll::config::DocumentStore::Local => println!(
            "  Documents:  {}",
            state.settings.data_dir.join("documents").display()
        ),
        s3 => println!("  Documents:  {s3}"),
    }
    if demo {
        println!("  Demo logins (password: {}):", demo::DEMO_PASSWORD);
        println!("    {}", demo::usernames().collect::<Vec<_>>().join(", "));
        if let Some(line) = &demo_line {
            println!("{line}");
        }
    }
    println!("  Stop with Ctrl+C.");
    println!();
    let server = server.run();
    stop_on_signals(server.handle(), state.settings.shutdown_grace_seconds);
    server.await?;
    tracing::info!("stopped");
    Ok(())
}

/// The first SIGTERM or SIGINT stops accepting and lets the requests in
/// flight finish (up to `grace` seconds); the second stops at once.
fn stop_on_signals(server: actix_web::dev::ServerHandle, grace: u64) {
    use tokio::signal::unix::{signal, SignalKind};
    actix_web::rt::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for SIGTERM and SIGINT; stop the server with SIGKILL");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!(
            grace_seconds = grace,
            "stopping: no new connections; requests in flight may finish"
        );
        let stopping = actix_web::rt::spawn(server.stop(true));
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        stopping.abort();
        tracing::warn!("second signal: stopping at once");
        std::process::exit(130);
    });
}
