//! Typed settings: defaults → optional TOML file → environment variables.

use crate::domain::messages::MessageRules;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Holds the SQLite file, photos and the generated signing key.
    pub data_dir: PathBuf,
    /// Overrides the SQLite default; `postgres://…` selects PostgreSQL.
    pub database_url: Option<String>,
    pub db_pool_size: u32,
    pub access_token_minutes: i64,
    pub refresh_token_days: i64,
    /// Largest JSON body accepted, in bytes.
    pub json_limit_bytes: usize,
    /// Who is told what at each transition (`[messages]` in the TOML file).
    pub message_rules: MessageRules,
    /// A key signed out longer than this is overdue.
    pub key_sign_out_hours: i64,
    /// Largest photo upload, in bytes.
    pub document_limit_bytes: usize,
    /// Photos processed at once, at most (each also waits for its memory);
    /// 0: half the cores.
    pub photo_workers: usize,
    /// Documents are weeded this many days after the customer's case closed.
    pub document_retention_days: i64,
    /// How often the server runs the follow-up rules; 0 turns the scheduler off.
    pub followup_interval_minutes: u64,
    /// Days without an answer from the ordinary assessor before the alarm leads hear.
    pub escalation_days: i64,
    /// Where document photos are kept.
    pub document_store: DocumentStore,
    /// An S3-compatible service's address (MinIO, Ceph, …); unset means AWS.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    /// An `Idempotency-Key` claim this old whose action never committed belonged
    /// to a request that died (a crash): it is released so the retry can act.
    pub idempotency_abandon_seconds: i64,
    /// A request body with no byte for this long is cut (408).
    pub body_idle_seconds: u64,
    /// A request body not all in within this long is cut (408).
    pub body_total_seconds: u64,
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

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            db_pool_size: 8,
            access_token_minutes: 15,
            refresh_token_days: 30,
            json_limit_bytes: 256 * 1024,
            message_rules: MessageRules::default(),
            key_sign_out_hours: 16,
            document_limit_bytes: 15 * 1024 * 1024,
            photo_workers: 0,
            document_retention_days: 5 * 365,
            followup_interval_minutes: 60,
            escalation_days: 14,
            document_store: DocumentStore::Local,
            s3_endpoint: None,
            s3_region: None,
            idempotency_abandon_seconds: 60,
            body_idle_seconds: 15,
            body_total_seconds: 300,
        }
    }
}

/// The TOML file's shape: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    db_pool_size: Option<u32>,
    access_token_minutes: Option<i64>,
    refresh_token_days: Option<i64>,
    json_limit_bytes: Option<usize>,
    key_sign_out_hours: Option<i64>,
    document_limit_bytes: Option<usize>,
    photo_workers: Option<usize>,
    document_retention_days: Option<i64>,
    followup_interval_minutes: Option<u64>,
    escalation_days: Option<i64>,
    document_store: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    idempotency_abandon_seconds: Option<i64>,
    body_idle_seconds: Option<u64>,
    body_total_seconds: Option<u64>,
    /// topic → recipients, e.g. `installed = ["role:billing", "group:night_patrol"]`.
    messages: Option<BTreeMap<String, Vec<String>>>,
}

pub const ENV_HELP: &str = "\
Configuration (environment variables override the TOML file, which overrides defaults):
  LARMKOLL_CONFIG               optional TOML file with the keys below in snake_case
  LARMKOLL_LISTEN               listen address                 [default: 127.0.0.1:8080]
  LARMKOLL_DATA_DIR             SQLite file, photos, signing key [default: ./data]
  DATABASE_URL                  postgres://user@host/db or sqlite://path [default: sqlite in data dir]
  LARMKOLL_DB_POOL_SIZE         database connections           [default: 8]
  LARMKOLL_ACCESS_TOKEN_MINUTES access token lifetime          [default: 15]
  LARMKOLL_REFRESH_TOKEN_DAYS   refresh token lifetime         [default: 30]
  LARMKOLL_JSON_LIMIT_BYTES     largest JSON request body      [default: 262144]
  LARMKOLL_KEY_SIGN_OUT_HOURS   a key out longer is overdue    [default: 16]
  LARMKOLL_DOCUMENT_LIMIT_BYTES largest photo upload           [default: 15728640]
  LARMKOLL_PHOTO_WORKERS        photos processed at once, within a 512 MB memory budget
                                [default: 0 = half the cores]
  LARMKOLL_DOCUMENT_RETENTION_DAYS weed documents this long after a case closed [default: 1825]
  LARMKOLL_FOLLOWUP_INTERVAL_MINUTES run the follow-up rules this often; 0 = off [default: 60]
  LARMKOLL_ESCALATION_DAYS      days without answer before the alarm leads hear [default: 14]
  LARMKOLL_DOCUMENT_STORE       `local` (data dir) or s3://bucket[/prefix] [default: local]
  LARMKOLL_S3_ENDPOINT          an S3-compatible service, e.g. https://minio.example:9000 [default: AWS]
  LARMKOLL_S3_REGION            the bucket's region [default: AWS_REGION, else us-east-1]
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY  credentials for the S3 store
  LARMKOLL_IDEMPOTENCY_ABANDON_SECONDS a key claimed this long by a request that never
                                committed (the server died) is freed for the retry [default: 60]
  LARMKOLL_BODY_IDLE_SECONDS    cut a request body silent this long (408) [default: 15]
  LARMKOLL_BODY_TOTAL_SECONDS   cut a request body not in within this long (408) [default: 300]
  RUST_LOG                      log filter                     [default: info]
The TOML file may also hold [messages]: topic = [recipients] to change who is told
what (topics: ordered, installed, declined, returned_to_assessor, equipment_collected,
cancelled; recipients: role:<role>, group:<group kind>, assessor:ordinary).";

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
        fn parse<T: std::str::FromStr>(key: &str, value: String) -> anyhow::Result<T>
        where
            T::Err: std::fmt::Display,
        {
            value
                .parse()
                .map_err(|e| anyhow::anyhow!("{key}={value:?}: {e}"))
        }
        if let Some(v) = env("LARMKOLL_LISTEN") {
            s.listen = parse("LARMKOLL_LISTEN", v)?;
        }
        if let Some(v) = env("LARMKOLL_DATA_DIR") {
            s.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("DATABASE_URL").filter(|v| !v.is_empty()) {
            s.database_url = Some(v);
        }
        if let Some(v) = env("LARMKOLL_DB_POOL_SIZE") {
            s.db_pool_size = parse("LARMKOLL_DB_POOL_SIZE", v)?;
        }
        if let Some(v) = env("LARMKOLL_ACCESS_TOKEN_MINUTES") {
            s.access_token_minutes = parse("LARMKOLL_ACCESS_TOKEN_MINUTES", v)?;
        }
        if let Some(v) = env("LARMKOLL_REFRESH_TOKEN_DAYS") {
            s.refresh_token_days = parse("LARMKOLL_REFRESH_TOKEN_DAYS", v)?;
        }
        if let Some(v) = env("LARMKOLL_FOLLOWUP_INTERVAL_MINUTES") {
            s.followup_interval_minutes = parse("LARMKOLL_FOLLOWUP_INTERVAL_MINUTES", v)?;
        }
        if let Some(v) = env("LARMKOLL_ESCALATION_DAYS") {
            s.escalation_days = parse("LARMKOLL_ESCALATION_DAYS", v)?;
        }
        if let Some(v) = env("LARMKOLL_IDEMPOTENCY_ABANDON_SECONDS") {
            s.idempotency_abandon_seconds = parse("LARMKOLL_IDEMPOTENCY_ABANDON_SECONDS", v)?;
        }
        if let Some(v) = env("LARMKOLL_BODY_IDLE_SECONDS") {
            s.body_idle_seconds = parse("LARMKOLL_BODY_IDLE_SECONDS", v)?;
        }
        if let Some(v) = env("LARMKOLL_BODY_TOTAL_SECONDS") {
            s.body_total_seconds = parse("LARMKOLL_BODY_TOTAL_SECONDS", v)?;
        }
        if let Some(v) = env("LARMKOLL_DOCUMENT_RETENTION_DAYS") {
            s.document_retention_days = parse("LARMKOLL_DOCUMENT_RETENTION_DAYS", v)?;
        }
        if let Some(v) = env("LARMKOLL_DOCUMENT_LIMIT_BYTES") {
            s.document_limit_bytes = parse("LARMKOLL_DOCUMENT_LIMIT_BYTES", v)?;
        }
        if let Some(v) = env("LARMKOLL_PHOTO_WORKERS") {
            s.photo_workers = parse("LARMKOLL_PHOTO_WORKERS", v)?;
        }
        if let Some(v) = env("LARMKOLL_KEY_SIGN_OUT_HOURS") {
            s.key_sign_out_hours = parse("LARMKOLL_KEY_SIGN_OUT_HOURS", v)?;
        }
        if let Some(v) = env("LARMKOLL_JSON_LIMIT_BYTES") {
            s.json_limit_bytes = parse("LARMKOLL_JSON_LIMIT_BYTES", v)?;
        }
        if let Some(v) = env("LARMKOLL_DOCUMENT_STORE") {
            s.document_store = parse("LARMKOLL_DOCUMENT_STORE", v)?;
        }
        if let Some(v) = env("LARMKOLL_S3_ENDPOINT").filter(|v| !v.is_empty()) {
            s.s3_endpoint = Some(v);
        }
        if let Some(v) = env("LARMKOLL_S3_REGION").filter(|v| !v.is_empty()) {
            s.s3_region = Some(v);
        }
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

    fn apply_file(&mut self, f: FileSettings) -> anyhow::Result<()> {
        let FileSettings {
            listen,
            data_dir,
            database_url,
            db_pool_size,
            access_token_minutes,
            refresh_token_days,
            json_limit_bytes,
            key_sign_out_hours,
            document_limit_bytes,
            photo_workers,
            document_retention_days,
            followup_interval_minutes,
            escalation_days,
            document_store,
            s3_endpoint,
            s3_region,
            idempotency_abandon_seconds,
            body_idle_seconds,
            body_total_seconds,
            messages: _,
        } = f;
        self.body_idle_seconds = body_idle_seconds.unwrap_or(self.body_idle_seconds);
        self.body_total_seconds = body_total_seconds.unwrap_or(self.body_total_seconds);
        if let Some(store) = document_store {
            self.document_store = store
                .parse()
                .map_err(|e| anyhow::anyhow!("document_store = {store:?}: {e}"))?;
        }
        self.s3_endpoint = s3_endpoint.or(self.s3_endpoint.take());
        self.s3_region = s3_region.or(self.s3_region.take());
        self.idempotency_abandon_seconds =
            idempotency_abandon_seconds.unwrap_or(self.idempotency_abandon_seconds);
        self.followup_interval_minutes =
            followup_interval_minutes.unwrap_or(self.followup_interval_minutes);
        self.escalation_days = escalation_days.unwrap_or(self.escalation_days);
        self.document_retention_days =
            document_retention_days.unwrap_or(self.document_retention_days);
        self.document_limit_bytes = document_limit_bytes.unwrap_or(self.document_limit_bytes);
        self.photo_workers = photo_workers.unwrap_or(self.photo_workers);
        self.key_sign_out_hours = key_sign_out_hours.unwrap_or(self.key_sign_out_hours);
        self.listen = listen.unwrap_or(self.listen);
        self.data_dir = data_dir.unwrap_or_else(|| self.data_dir.clone());
        self.database_url = database_url.or(self.database_url.take());
        self.db_pool_size = db_pool_size.unwrap_or(self.db_pool_size);
        self.access_token_minutes = access_token_minutes.unwrap_or(self.access_token_minutes);
        self.refresh_token_days = refresh_token_days.unwrap_or(self.refresh_token_days);
        self.json_limit_bytes = json_limit_bytes.unwrap_or(self.json_limit_bytes);
        Ok(())
    }

    /// How long a request body may take.
    pub fn body_timeouts(&self) -> crate::http::body_timeout::BodyTimeouts {
        crate::http::body_timeout::BodyTimeouts {
            idle: std::time::Duration::from_secs(self.body_idle_seconds),
            total: std::time::Duration::from_secs(self.body_total_seconds),
        }
    }

    /// The database URL in force: the configured one, or the SQLite file in the data dir.
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

    /// The variables named in a text: `LARMKOLL_…`, `DATABASE_URL`.
    fn variables(text: &str) -> BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .filter(|w| w.starts_with("LARMKOLL_") || *w == "DATABASE_URL")
            .map(str::to_string)
            .collect()
    }

    /// Issue 13, item 6: the loader, `--help`, the TOML file and the README's
    /// configuration table name the same settings, so none can drift.
    #[test]
    fn help_toml_and_readme_name_every_setting_the_loader_reads() {
        let read = std::cell::RefCell::new(BTreeSet::new());
        Settings::load_from(None, |key| {
            read.borrow_mut().insert(key.to_string());
            None
        })
        .unwrap();
        let read = read.into_inner();
        // Read by the command line, not the settings loader.
        let outside = ["LARMKOLL_CONFIG"];
        let help: BTreeSet<String> = variables(ENV_HELP)
            .into_iter()
            .filter(|v| !outside.contains(&v.as_str()))
            .collect();
        assert_eq!(help, read, "--help (ENV_HELP) and the loader differ");

        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("README has a Configuration section");
        let table: BTreeSet<String> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| variables(l.split('|').nth(1).unwrap_or_default()))
            .filter(|v| !outside.contains(&v.as_str()))
            .collect();
        assert_eq!(
            table, read,
            "the README's configuration table and the loader differ"
        );

        for variable in read.iter().filter(|v| v.starts_with("LARMKOLL_")) {
            let key = variable["LARMKOLL_".len()..].to_lowercase();
            // A known key with a wrong type is a type error, an unknown key another.
            let err = toml::from_str::<FileSettings>(&format!("{key} = [[]]"))
                .expect_err("no setting is a list of lists");
            assert!(
                !err.to_string().contains("unknown field"),
                "the TOML file does not take `{key}` ({variable}): {err}"
            );
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
