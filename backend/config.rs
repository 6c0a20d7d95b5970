//! Typed settings: defaults → optional TOML file → environment variables.
//!
//! Each setting is declared once, in the `settings!` list below: its field
//! (also its TOML key), environment variable, default and meaning. The struct,
//! its defaults, the TOML file's shape, the environment overlay and the
//! reference that `--help` prints (and the README's table must match) all
//! come from that list.

use crate::domain::messages::MessageRules;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Names the optional TOML file (`--config FILE` does the same).
pub const CONFIG_VARIABLE: &str = "LARMKOLL_CONFIG";

/// How `Reference` and `--help` say that a setting has no default.
pub const NO_DEFAULT: &str = "—";

/// The log filter when `RUST_LOG` is unset.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// One row of the configuration reference: `--help` prints it, the README's
/// configuration table repeats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The environment variable(s), or where else the setting is given.
    pub name: &'static str,
    /// The default as an operator would write it, or `NO_DEFAULT`.
    pub default: String,
    pub meaning: &'static str,
}

/// How a setting's type is read from the TOML file and the environment, and
/// how its default is shown.
trait Value: Sized {
    /// What the TOML file holds for it.
    type Toml: serde::de::DeserializeOwned + std::fmt::Debug;
    fn from_toml(toml: &Self::Toml) -> Result<Self, String>;
    /// `None`: the variable counts as unset.
    fn from_env(text: &str) -> Result<Option<Self>, String>;
    fn shown(&self) -> String;
}

/// Types the TOML file holds as themselves and the environment spells with `FromStr`.
macro_rules! value_as_itself {
    ($($ty:ty),*) => {$(
        impl Value for $ty {
            type Toml = Self;
            fn from_toml(toml: &Self) -> Result<Self, String> {
                Ok(toml.clone())
            }
            fn from_env(text: &str) -> Result<Option<Self>, String> {
                text.parse().map(Some).map_err(|e| format!("{e}"))
            }
            fn shown(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

value_as_itself!(SocketAddr, u32, u64, i64, i32, usize, bool, String);

/// A list: an array in the TOML file, comma-separated in the environment.
impl Value for Vec<String> {
    type Toml = Self;
    fn from_toml(toml: &Self) -> Result<Self, String> {
        Ok(toml.clone())
    }
    fn from_env(text: &str) -> Result<Option<Self>, String> {
        Ok(Some(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ))
    }
    fn shown(&self) -> String {
        if self.is_empty() {
            NO_DEFAULT.into()
        } else {
            self.join(",")
        }
    }
}

impl Value for PathBuf {
    type Toml = Self;
    fn from_toml(toml: &Self) -> Result<Self, String> {
        Ok(toml.clone())
    }
    fn from_env(text: &str) -> Result<Option<Self>, String> {
        Ok(Some(text.into()))
    }
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

/// An optional text; an empty variable leaves it as the file or the default has it.
impl Value for Option<String> {
    type Toml = String;
    fn from_toml(toml: &String) -> Result<Self, String> {
        Ok(Some(toml.clone()))
    }
    fn from_env(text: &str) -> Result<Option<Self>, String> {
        Ok((!text.is_empty()).then(|| Some(text.to_string())))
    }
    fn shown(&self) -> String {
        self.clone().unwrap_or_else(|| NO_DEFAULT.into())
    }
}

/// Types the TOML file and the environment both spell as a word (`FromStr`
/// with a `String` error, `Display` for the default).
macro_rules! value_as_word {
    ($($ty:ty),*) => {$(
        impl Value for $ty {
            type Toml = String;
            fn from_toml(toml: &String) -> Result<Self, String> {
                toml.parse()
            }
            fn from_env(text: &str) -> Result<Option<Self>, String> {
                text.parse().map(Some)
            }
            fn shown(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

value_as_word!(LogFormat, SmtpTls, DocumentStore);

/// Generates `Settings` (plus the TOML-only `message_rules`), its `Default`,
/// the TOML file's shape and both overlays from one list. `default_reads`
/// says how a default without a value of its own reads in the reference.
macro_rules! settings {
    ($(
        $(#[$doc:meta])*
        $field:ident: $ty:ty {
            env: $env:literal,
            default: $default:expr,
            $(default_reads: $reads:literal,)?
            meaning: $meaning:literal $(,)?
        }
    )*) => {
        #[derive(Debug, Clone)]
        pub struct Settings {
            $(
                #[doc = $meaning]
                $(#[$doc])*
                pub $field: $ty,
            )*
            /// Who is told what at each transition (`[messages]` in the TOML file).
            pub message_rules: MessageRules,
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                    message_rules: MessageRules::default(),
                }
            }
        }

        /// The TOML file's shape: every key optional, unknown keys refused.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileSettings {
            $($field: Option<<$ty as Value>::Toml>,)*
            /// topic → recipients, e.g. `installed = ["role:billing", "group:night_patrol"]`.
            messages: Option<BTreeMap<String, Vec<String>>>,
        }

        /// (TOML key, environment variable) of every declared setting.
        #[cfg(test)]
        const DECLARED: &[(&str, &str)] = &[$((stringify!($field), $env)),*];

        impl Settings {
            /// The declared settings as `--help` and the README show them.
            fn declared() -> Vec<Reference> {
                let defaults = Settings::default();
                vec![$(Reference {
                    name: $env,
                    default: settings!(@reads defaults.$field $(, $reads)?),
                    meaning: $meaning,
                }),*]
            }

            fn apply_file(&mut self, file: FileSettings) -> anyhow::Result<()> {
                $(if let Some(value) = file.$field {
                    self.$field = Value::from_toml(&value).map_err(|e| {
                        anyhow::anyhow!("{} = {value:?}: {e}", stringify!($field))
                    })?;
                })*
                Ok(())
            }

            fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
                $(if let Some(text) = env($env) {
                    if let Some(value) = <$ty as Value>::from_env(&text)
                        .map_err(|e| anyhow::anyhow!("{}={text:?}: {e}", $env))?
                    {
                        self.$field = value;
                    }
                })*
                Ok(())
            }
        }
    };
    (@reads $value:expr) => { Value::shown(&$value) };
    (@reads $value:expr, $reads:literal) => { String::from($reads) };
}

settings! {
    listen: SocketAddr {
        env: "LARMKOLL_LISTEN",
        default: SocketAddr::from(([127, 0, 0, 1], 8080)),
        meaning: "listen address",
    }
    data_dir: PathBuf {
        env: "LARMKOLL_DATA_DIR",
        default: PathBuf::from("./data"),
        meaning: "SQLite file, photos, signing key; a configured one must exist",
    }
    database_url: Option<String> {
        env: "DATABASE_URL",
        default: None,
        default_reads: "sqlite://<data dir>/larmkoll.db",
        meaning: "postgres://user@host/db (PostgreSQL) or sqlite://path (SQLite)",
    }
    db_pool_size: u32 {
        env: "LARMKOLL_DB_POOL_SIZE",
        default: 8,
        meaning: "database connections",
    }
    access_token_minutes: i64 {
        env: "LARMKOLL_ACCESS_TOKEN_MINUTES",
        default: 15,
        meaning: "access token lifetime",
    }
    refresh_token_days: i64 {
        env: "LARMKOLL_REFRESH_TOKEN_DAYS",
        default: 30,
        meaning: "refresh token lifetime",
    }
    json_limit_bytes: usize {
        env: "LARMKOLL_JSON_LIMIT_BYTES",
        default: 256 * 1024,
        meaning: "largest JSON request body, in bytes",
    }
    key_sign_out_hours: i64 {
        env: "LARMKOLL_KEY_SIGN_OUT_HOURS",
        default: 16,
        meaning: "a key signed out longer is overdue",
    }
    document_limit_bytes: usize {
        env: "LARMKOLL_DOCUMENT_LIMIT_BYTES",
        default: 15 * 1024 * 1024,
        meaning: "largest photo upload, in bytes",
    }
    /// Each photo also waits for its share of the memory budget.
    photo_workers: usize {
        env: "LARMKOLL_PHOTO_WORKERS",
        default: 0,
        meaning: "photos processed at once, within a 512 MiB memory budget; 0 = half the cores",
    }
    body_idle_seconds: u64 {
        env: "LARMKOLL_BODY_IDLE_SECONDS",
        default: 15,
        meaning: "a request body with no byte for this long is cut (408)",
    }
    body_total_seconds: u64 {
        env: "LARMKOLL_BODY_TOTAL_SECONDS",
        default: 300,
        meaning: "a request body not all in within this long is cut (408)",
    }
    document_retention_days: i64 {
        env: "LARMKOLL_DOCUMENT_RETENTION_DAYS",
        default: 5 * 365,
        meaning: "documents are weeded this many days after the customer's case closed",
    }
    document_store: DocumentStore {
        env: "LARMKOLL_DOCUMENT_STORE",
        default: DocumentStore::Local,
        meaning: "local (documents/ in the data dir) or s3://bucket[/prefix]",
    }
    s3_endpoint: Option<String> {
        env: "LARMKOLL_S3_ENDPOINT",
        default: None,
        default_reads: "AWS",
        meaning: "an S3-compatible service (MinIO, Ceph, …), e.g. https://minio.example:9000",
    }
    s3_region: Option<String> {
        env: "LARMKOLL_S3_REGION",
        default: None,
        default_reads: "AWS_REGION, else us-east-1",
        meaning: "the bucket's region",
    }
    /// One whose action committed is never released.
    idempotency_abandon_seconds: i64 {
        env: "LARMKOLL_IDEMPOTENCY_ABANDON_SECONDS",
        default: 60,
        meaning: "an Idempotency-Key claimed this long by a request that never committed (it died) is freed for the retry",
    }
    /// Kept out of the TOML file's examples: a secret, like a password.
    metrics_token: Option<String> {
        env: "LARMKOLL_METRICS_TOKEN",
        default: None,
        meaning: "bearer token that opens /metrics (Prometheus/OpenMetrics text); unset, /metrics does not exist",
    }
    shutdown_grace_seconds: u64 {
        env: "LARMKOLL_SHUTDOWN_GRACE_SECONDS",
        default: 30,
        meaning: "on SIGTERM or Ctrl+C, how long requests in flight (photos included) may take to finish; a second signal stops at once",
    }
    /// Neither carries personal data: requests are logged by route
    /// template, status, time, request id and user id.
    log_format: LogFormat {
        env: "LARMKOLL_LOG_FORMAT",
        default: LogFormat::Text,
        meaning: "`text` for people, `json` for one JSON object per line (a log platform)",
    }
    followup_interval_minutes: u64 {
        env: "LARMKOLL_FOLLOWUP_INTERVAL_MINUTES",
        default: 60,
        meaning: "how often the server runs the follow-up rules; 0 = off",
    }
    escalation_days: i64 {
        env: "LARMKOLL_ESCALATION_DAYS",
        default: 14,
        meaning: "days without an answer from the ordinary assessor before the alarm leads hear",
    }
    public_url: Option<String> {
        env: "LARMKOLL_PUBLIC_URL",
        default: None,
        default_reads: "http://<listen>",
        meaning: "the address people open Larmkoll at, e.g. https://larmkoll.kommun.se: the links in mails point there, and the identity provider sends people back to <this>/api/v1/auth/oidc/callback",
    }
    oidc_issuer: Option<String> {
        env: "LARMKOLL_OIDC_ISSUER",
        default: None,
        meaning: "the identity provider's issuer URL (OpenID Connect discovery); unset, password login only",
    }
    oidc_client_id: Option<String> {
        env: "LARMKOLL_OIDC_CLIENT_ID",
        default: None,
        meaning: "Larmkoll's client id at the identity provider",
    }
    oidc_match_claim: String {
        env: "LARMKOLL_OIDC_MATCH_CLAIM",
        default: String::from("sub"),
        meaning: "the ID token's claim matched against each user's external identity: sub, email, upn, an HSA-id claim, …",
    }
    oidc_scopes: String {
        env: "LARMKOLL_OIDC_SCOPES",
        default: String::from("openid profile email"),
        meaning: "the scopes asked for, space-separated; they must bring the matched claim",
    }
    oidc_required_acr: Option<String> {
        env: "LARMKOLL_OIDC_REQUIRED_ACR",
        default: None,
        meaning: "the assurance level (acr) the provider must vouch for, e.g. http://id.elegnamnden.se/loa/1.0/loa3; a lower one is refused",
    }
    oidc_button_text: String {
        env: "LARMKOLL_OIDC_BUTTON_TEXT",
        default: String::from("Logga in med kommunens inloggning"),
        meaning: "the login button's text",
    }
    password_login: bool {
        env: "LARMKOLL_PASSWORD_LOGIN",
        default: true,
        meaning: "false: only the break-glass accounts log in with a password",
    }
    break_glass_accounts: Vec<String> {
        env: "LARMKOLL_BREAK_GLASS_ACCOUNTS",
        default: Vec::new(),
        meaning: "usernames (comma-separated) that keep password login when it is off, for when the provider is down",
    }
    /// Kept out of the TOML file's examples: a secret, like a password.
    scim_token: Option<String> {
        env: "LARMKOLL_SCIM_TOKEN",
        default: None,
        meaning: "bearer token for user provisioning by SCIM 2.0 at /scim/v2; unset, /scim/v2 does not exist",
    }
    /// Unset: mails wait in the outbox (pending) until a host is configured.
    smtp_host: Option<String> {
        env: "LARMKOLL_SMTP_HOST",
        default: None,
        meaning: "mail server for the outbox's mails; unset, no mail is sent (they wait, pending)",
    }
    smtp_port: u32 {
        env: "LARMKOLL_SMTP_PORT",
        default: 587,
        meaning: "mail server port (587 STARTTLS, 465 implicit TLS, 25 none)",
    }
    smtp_tls: SmtpTls {
        env: "LARMKOLL_SMTP_TLS",
        default: SmtpTls::Starttls,
        meaning: "`starttls`, `tls` (implicit) or `none` (only for a server on loopback)",
    }
    mail_from: Option<String> {
        env: "LARMKOLL_MAIL_FROM",
        default: None,
        default_reads: "larmkoll@<SMTP host>",
        meaning: "the mails' sender address; its domain also ends each Message-ID",
    }
    outbox_poll_millis: u64 {
        env: "LARMKOLL_OUTBOX_POLL_MILLIS",
        default: 2000,
        meaning: "how often the dispatcher looks for due mails and webhook deliveries",
    }
    outbox_lease_seconds: i64 {
        env: "LARMKOLL_OUTBOX_LEASE_SECONDS",
        default: 60,
        meaning: "a delivery claimed by a dispatcher that died is retaken after this long",
    }
    outbox_retry_base_millis: i64 {
        env: "LARMKOLL_OUTBOX_RETRY_BASE_MILLIS",
        default: 30_000,
        meaning: "wait before the first retry; doubled after each failed attempt, at most an hour",
    }
    mail_attempts: i32 {
        env: "LARMKOLL_MAIL_ATTEMPTS",
        default: 12,
        meaning: "attempts at a mail before it is marked failed",
    }
    webhook_retry_seconds: i64 {
        env: "LARMKOLL_WEBHOOK_RETRY_SECONDS",
        default: 25 * 3600,
        meaning: "how long a webhook delivery is retried before it is marked failed",
    }
    webhook_timeout_seconds: u64 {
        env: "LARMKOLL_WEBHOOK_TIMEOUT_SECONDS",
        default: 10,
        meaning: "a receiver that has not answered within this long counts as failed (retried)",
    }
}

/// Every row of the configuration reference, in the order `--help` prints
/// them: the declared settings amid what is read elsewhere.
pub fn reference() -> Vec<Reference> {
    let row = |name: &'static str, default: &str, meaning: &'static str| Reference {
        name,
        default: default.into(),
        meaning,
    };
    let mut rows = vec![row(
        CONFIG_VARIABLE,
        NO_DEFAULT,
        "optional TOML file with the keys below in snake_case (or --config FILE)",
    )];
    rows.extend(Settings::declared());
    rows.extend([
        row(
            "LARMKOLL_OIDC_CLIENT_SECRET",
            NO_DEFAULT,
            "Larmkoll's client secret at the identity provider (never from the file)",
        ),
        row(
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY",
            NO_DEFAULT,
            "credentials for the S3 store (never from the file)",
        ),
        row(
            "LARMKOLL_SMTP_USERNAME, LARMKOLL_SMTP_PASSWORD",
            NO_DEFAULT,
            "credentials for the mail server (never from the file)",
        ),
        row("RUST_LOG", DEFAULT_LOG_FILTER, "log filter"),
        row(
            "[messages] (TOML only)",
            "the seeds' lists",
            "who is told what at each transition (below)",
        ),
    ]);
    rows
}

/// The configuration part of `--help`, from `reference()`.
pub fn help() -> String {
    const COLUMN: usize = 38; // the variables' column
    const WIDTH: usize = 100;
    let mut text = String::from(
        "Configuration (environment variables override the TOML file, which overrides defaults):\n",
    );
    for row in reference() {
        let default = match row.default.as_str() {
            NO_DEFAULT => String::new(),
            default => format!(" [default: {default}]"),
        };
        let mut name = row.name;
        if name.len() >= COLUMN {
            text += &format!("  {name}\n");
            name = "";
        }
        for line in wrap(&format!("{}{default}", row.meaning), WIDTH - 2 - COLUMN) {
            text += &format!("  {name:COLUMN$}{line}\n");
            name = "";
        }
    }
    text + "\
The TOML file's [messages] table: topic = [recipients] (topics: ordered, installed, declined,
returned_to_assessor, equipment_collected, cancelled, terminated, lock_mounted, lock_removed;
recipients: role:<role>, group:<group kind>, assessor:ordinary)."
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("one line at least");
        if line.is_empty() {
            line.push_str(word);
        } else if line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            line.push(' ');
            line.push_str(word);
        }
    }
    lines
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected `text` or `json`".into()),
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

/// How the outbox talks to the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP: for a relay on loopback only.
    None,
    Starttls,
    /// Implicit TLS (SMTPS, port 465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::Starttls),
            "tls" => Ok(Self::Tls),
            _ => Err("expected `none`, `starttls` or `tls`".into()),
        }
    }
}

impl std::fmt::Display for SmtpTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Starttls => "starttls",
            Self::Tls => "tls",
        })
    }
}

/// Where document files live: the data directory, or an S3-compatible bucket
/// that several server instances share. Credentials come from the standard
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` variables, never from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentStore {
    /// `documents/` in the data directory.
    Local,
    /// `s3://bucket[/prefix]`.
    S3 { bucket: String, prefix: String },
}

impl std::str::FromStr for DocumentStore {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "local" {
            return Ok(Self::Local);
        }
        let Some(rest) = s.strip_prefix("s3://") else {
            return Err("expected `local` or `s3://bucket[/prefix]`".into());
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(format!(
                "{bucket:?} is not a bucket name (3–63 lowercase letters, digits, '-' or '.')"
            ));
        }
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(format!("{prefix:?} is not a usable prefix"));
        }
        Ok(Self::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl std::fmt::Display for DocumentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl Settings {
    /// Loads settings from an optional TOML file and the process environment.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_from(config_file, |key| std::env::var(key).ok())
    }

    pub fn load_from(
        config_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let mut s = Settings::default();
        if let Some(path) = config_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
            let file: FileSettings = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
            if let Some(m) = &file.messages {
                s.message_rules = MessageRules::default().with_overrides(m).map_err(|e| {
                    anyhow::anyhow!("config file {}: [messages]: {e}", path.display())
                })?;
            }
            s.apply_file(file)
                .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
        }
        s.apply_env(env)?;
        if s.db_pool_size == 0 || s.access_token_minutes <= 0 || s.refresh_token_days <= 0 {
            anyhow::bail!("pool size and token lifetimes must be positive");
        }
        if s.body_idle_seconds == 0 || s.body_total_seconds < s.body_idle_seconds {
            anyhow::bail!(
                "body timeouts: LARMKOLL_BODY_IDLE_SECONDS must be positive and at most LARMKOLL_BODY_TOTAL_SECONDS"
            );
        }
        Ok(s)
    }

    /// The database URL in force: the configured one, or the SQLite file in the data dir.
    /// The address people open Larmkoll at, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("larmkoll.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    /// The README's configuration table as (variable, default) pairs, code
    /// formatting dropped: rows `| `VAR` | default | meaning |`.
    fn readme_table() -> BTreeMap<String, String> {
        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README has a Configuration section");
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(|c| c.trim()).collect();
                (cells[1].replace('`', ""), cells[2].replace('`', ""))
            })
            .collect()
    }

    #[test]
    fn the_readme_configuration_table_is_the_declared_reference() {
        let readme = readme_table();
        let declared: BTreeMap<String, String> = reference()
            .into_iter()
            .map(|r| (r.name.to_string(), r.default))
            .collect();
        let names: BTreeSet<&String> = readme.keys().chain(declared.keys()).collect();
        let differences: Vec<String> = names
            .into_iter()
            .filter_map(|name| match (readme.get(name), declared.get(name)) {
                (Some(written), Some(default)) if written == default => None,
                (Some(written), Some(default)) => Some(format!(
                    "{name}: the README says {written:?}, the declared default is {default:?}"
                )),
                (None, _) => Some(format!("{name}: declared, missing from the README")),
                (_, None) => Some(format!("{name}: in the README, not declared")),
            })
            .collect();
        assert!(
            differences.is_empty(),
            "the README's configuration table and the declared settings differ:\n{}",
            differences.join("\n")
        );
    }

    #[test]
    fn the_loader_reads_exactly_the_declared_variables() {
        let read = std::cell::RefCell::new(BTreeSet::new());
        Settings::load_from(None, |key| {
            read.borrow_mut().insert(key.to_string());
            None
        })
        .unwrap();
        let declared: BTreeSet<String> = DECLARED.iter().map(|(_, v)| v.to_string()).collect();
        assert_eq!(read.into_inner(), declared);
    }

    /// The README promises that the TOML keys (the field names) are the
    /// variables in snake_case.
    #[test]
    fn each_variable_is_its_toml_key_in_capitals() {
        for (key, variable) in DECLARED {
            if *variable != "DATABASE_URL" {
                assert_eq!(*variable, format!("LARMKOLL_{}", key.to_uppercase()));
            }
        }
    }

    #[test]
    fn help_names_every_variable_with_its_default() {
        let help = help().split_whitespace().collect::<Vec<_>>().join(" ");
        for row in reference() {
            assert!(help.contains(row.name), "--help lacks {}", row.name);
            if row.default != NO_DEFAULT {
                assert!(
                    help.contains(&format!("[default: {}]", row.default)),
                    "--help lacks the default of {}",
                    row.name
                );
            }
        }
    }

    /// A variable named in a message or a doc comment of the settings or the
    /// command line is one that is read.
    #[test]
    fn the_variables_the_code_names_are_declared() {
        let known: BTreeSet<&str> = reference()
            .iter()
            .flat_map(|r| r.name.split(", "))
            .chain(["LARMKOLL_NEW_PASSWORD"])
            .collect();
        for text in [include_str!("config.rs"), include_str!("main.rs")] {
            for word in
                text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            {
                if word.starts_with("LARMKOLL_") && word.len() > "LARMKOLL_".len() {
                    assert!(known.contains(word), "{word} is not a declared variable");
                }
            }
        }
    }

    #[test]
    fn env_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("larmkoll.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\ndb_pool_size = 4\n").unwrap();
        let env: HashMap<&str, &str> = [("LARMKOLL_DB_POOL_SIZE", "12")].into();
        let s = Settings::load_from(Some(&file), |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.db_pool_size, 12);
        assert_eq!(s.access_token_minutes, 15);
        assert!(s.effective_database_url().starts_with("sqlite://./data/"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        assert!(Settings::load_from(Some(&file), |_| None).is_err());
        let err = Settings::load_from(None, |k| (k == "LARMKOLL_LISTEN").then(|| "nope".into()));
        assert!(err.unwrap_err().to_string().contains("LARMKOLL_LISTEN"));
    }

    #[test]
    fn a_bad_file_value_is_named_and_an_empty_optional_variable_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("larmkoll.toml");
        std::fs::write(&file, "document_store = \"s3:/typo\"\n").unwrap();
        let err = Settings::load_from(Some(&file), |_| None).unwrap_err();
        assert!(
            err.to_string()
                .contains("document_store = \"s3:/typo\": expected"),
            "{err}"
        );

        std::fs::write(&file, "database_url = \"postgres://db/larmkoll\"\n").unwrap();
        let s =
            Settings::load_from(Some(&file), |k| (k == "DATABASE_URL").then(String::new)).unwrap();
        assert_eq!(s.database_url.as_deref(), Some("postgres://db/larmkoll"));
    }

    #[test]
    fn the_document_store_is_local_or_an_s3_bucket() {
        assert_eq!("local".parse(), Ok(DocumentStore::Local));
        let s3: DocumentStore = "s3://larmkoll-nacka/documents/".parse().unwrap();
        assert_eq!(
            s3,
            DocumentStore::S3 {
                bucket: "larmkoll-nacka".into(),
                prefix: "documents".into()
            }
        );
        assert_eq!(s3.to_string(), "s3://larmkoll-nacka/documents");
        assert_eq!(
            "s3://docs".parse::<DocumentStore>().unwrap().to_string(),
            "s3://docs"
        );
        for bad in [
            "",
            "s3://",
            "s3://UPPER",
            "s3://ab",
            "file:///tmp",
            "s3://docs/../x",
        ] {
            assert!(bad.parse::<DocumentStore>().is_err(), "{bad}");
        }
        let env: HashMap<&str, &str> = [("LARMKOLL_DOCUMENT_STORE", "s3:/typo")].into();
        let err = Settings::load_from(None, |k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(err.to_string().contains("LARMKOLL_DOCUMENT_STORE"), "{err}");
    }
}
