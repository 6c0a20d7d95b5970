//! Document files in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, …), for
//! deployments that run several server instances. An S3 PUT is atomic — an
//! object is visible whole or not at all — so no temporary names are needed.
//!
//! The trait is called from blocking threads (the request's `web::block`, the
//! command line), so the store runs its own small runtime and waits for it.

use super::storage::{checked_key, BlobStore};
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix`, for error messages (never credentials).
    label: String,
    /// An `Option` only so that `Drop` can shut it down from any thread.
    runtime: Option<tokio::runtime::Runtime>,
}

pub struct S3Config<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub endpoint: Option<&'a str>,
    pub region: Option<&'a str>,
}

impl S3Store {
    /// Credentials and anything not given here come from the standard `AWS_*`
    /// variables. Nothing is contacted yet: the start-up check lists the bucket.
    pub fn new(config: S3Config) -> io::Result<Self> {
        let label = if config.prefix.is_empty() {
            format!("s3://{}", config.bucket)
        } else {
            format!("s3://{}/{}", config.bucket, config.prefix)
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(config.bucket)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = config.endpoint {
            // Plain HTTP only when the configured address says so (a MinIO on the same host).
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = config.region {
            builder = builder.with_region(region);
        }
        let s3 = builder
            .build()
            .map_err(|e| io::Error::other(format!("document store {label}: {e}")))?;
        let store: Arc<dyn ObjectStore> = if config.prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, config.prefix))
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("larmkoll-s3")
            .enable_all()
            .build()?;
        Ok(Self {
            store,
            label,
            runtime: Some(runtime),
        })
    }

    /// Runs one request on the store's runtime and waits for its answer; safe
    /// from any thread, since the waiting is a plain channel receive.
    fn run<T, F>(&self, work: impl FnOnce(Arc<dyn ObjectStore>) -> F) -> io::Result<T>
    where
        T: Send + 'static,
        F: Future<Output = object_store::Result<T>> + Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("runtime lives until drop");
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let work = work(self.store.clone());
        runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        match rx.recv() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                let kind = match e {
                    object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
                    _ => io::ErrorKind::Other,
                };
                Err(io::Error::new(
                    kind,
                    format!("document store {}: {e}", self.label),
                ))
            }
            Err(_) => Err(io::Error::other(format!(
                "document store {}: request abandoned",
                self.label
            ))),
        }
    }

    fn not_found_as<T>(result: io::Result<T>, value: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(value),
            other => other,
        }
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics on an async thread; this does not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl BlobStore for S3Store {
    fn put(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let path = ObjectPath::from(checked_key(key)?);
        let payload = PutPayload::from(bytes.to_vec());
        self.run(|s| async move { s.put(&path, payload).await.map(drop) })
    }

    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        let path = ObjectPath::from(checked_key(key)?);
        let got = self.run(|s| async move {
            let bytes = s.get(&path).await?.bytes().await?;
            Ok(Some(bytes.to_vec()))
        });
        Self::not_found_as(got, None)
    }

    fn exists(&self, key: &str) -> io::Result<bool> {
        let path = ObjectPath::from(checked_key(key)?);
        Self::not_found_as(
            self.run(|s| async move { s.head(&path).await.map(|_| true) }),
            false,
        )
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
        let path = ObjectPath::from(checked_key(prefix)?);
        let mut keys = self.run(|s| async move {
            s.list(Some(&path))
                .map_ok(|meta| meta.location.to_string())
                .try_collect::<Vec<_>>()
                .await
        })?;
        keys.sort();
        Ok(keys)
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        let path = ObjectPath::from(checked_key(key)?);
        Self::not_found_as(self.run(|s| async move { s.delete(&path).await }), ())
    }
}
