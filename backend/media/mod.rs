//! Photographed documents: the pipeline and the storage behind it.

pub mod pipeline;
pub mod s3;
pub mod storage;

use crate::config::{DocumentStore, Settings};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use storage::BlobStore;

/// The store the settings name, for the server and the command line alike.
pub fn open_store(settings: &Settings) -> std::io::Result<Arc<dyn BlobStore>> {
    Ok(match &settings.document_store {
        DocumentStore::Local => Arc::new(storage::LocalStore::new(
            settings.data_dir.join("documents"),
        )?),
        DocumentStore::S3 { bucket, prefix } => Arc::new(s3::S3Store::new(s3::S3Config {
            bucket,
            prefix,
            endpoint: settings.s3_endpoint.as_deref(),
            region: settings.s3_region.as_deref(),
        })?),
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn original_key(sha: &str) -> String {
    format!("originals/{sha}")
}

pub fn display_key(sha: &str) -> String {
    format!("display/{sha}.jpg")
}

pub fn thumb_key(sha: &str) -> String {
    format!("thumbs/{sha}.jpg")
}

/// Peak resident memory of this process from the call on, in bytes: for the
/// tests that hold the pipeline to its budget. Linux; `None` where the peak
/// cannot be reset.
pub fn measure_peak_memory() -> Option<impl Fn() -> u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let read = |field: &str| -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let start = read("VmRSS:");
    Some(move || read("VmHWM:").saturating_sub(start))
}

pub fn keys_of(sha: &str) -> [String; 3] {
    [original_key(sha), display_key(sha), thumb_key(sha)]
}

/// Uploads whose files are written but whose record is not committed yet, by
/// SHA-256. Files are shared by every record of the same bytes, so a refused
/// upload may remove its files only when no record uses them and no other
/// upload of the same bytes is between writing them and committing its row.
/// (One server process writes the store; that is how Larmkoll is deployed.)
#[derive(Default)]
pub struct InFlight(std::sync::Mutex<std::collections::HashMap<String, usize>>);

/// One upload's claim on its files; dropping it releases the claim.
pub struct Hold {
    set: std::sync::Arc<InFlight>,
    sha: String,
}

impl InFlight {
    /// Call before writing the files.
    pub fn hold(set: &std::sync::Arc<Self>, sha: &str) -> Hold {
        *set.lock().entry(sha.to_string()).or_default() += 1;
        Hold {
            set: set.clone(),
            sha: sha.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn holds(&self, sha: &str) -> bool {
        self.lock().contains_key(sha)
    }
}

fn release(map: &mut std::collections::HashMap<String, usize>, sha: &str) {
    if let Some(n) = map.get_mut(sha) {
        *n -= 1;
        if *n == 0 {
            map.remove(sha);
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.sha.is_empty() {
            release(&mut self.set.lock(), &self.sha);
        }
    }
}

impl Hold {
    /// The upload was refused after writing its files: releases the claim and
    /// removes the files unless another upload holds them or `in_use` (the
    /// database) says a record has them. Answers whether they were removed.
    pub fn discard(
        mut self,
        store: &dyn storage::BlobStore,
        in_use: impl FnOnce() -> anyhow::Result<bool>,
    ) -> anyhow::Result<bool> {
        let sha = std::mem::take(&mut self.sha);
        let set = self.set.clone();
        // Held while deciding and deleting, so no upload of these bytes can
        // start writing them in between.
        let mut map = set.lock();
        release(&mut map, &sha);
        if map.contains_key(&sha) || in_use()? {
            return Ok(false);
        }
        for key in keys_of(&sha) {
            store.delete(&key)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::storage::BlobStore;
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_discarded_upload_removes_only_files_nobody_else_uses() {
        let dir = tempfile::tempdir().unwrap();
        let store = storage::LocalStore::new(dir.path()).unwrap();
        let set = Arc::new(InFlight::default());
        let put_all = |sha: &str| {
            for key in keys_of(sha) {
                store.put(&key, b"x").unwrap();
            }
        };
        let present = |sha: &str| keys_of(sha).iter().all(|k| store.exists(k).unwrap());

        // Another upload of the same bytes is still writing: kept.
        let (first, second) = (InFlight::hold(&set, "aa"), InFlight::hold(&set, "aa"));
        put_all("aa");
        assert!(!first.discard(&store, || Ok(false)).unwrap());
        assert!(present("aa") && set.holds("aa"));
        // A record uses them: kept.
        let third = InFlight::hold(&set, "aa");
        drop(second);
        assert!(!third.discard(&store, || Ok(true)).unwrap());
        assert!(present("aa") && !set.holds("aa"));
        // Nobody: removed.
        let last = InFlight::hold(&set, "aa");
        assert!(last.discard(&store, || Ok(false)).unwrap());
        assert!(keys_of("aa").iter().all(|k| !store.exists(k).unwrap()));
        assert!(!set.holds("aa"));
    }
}
