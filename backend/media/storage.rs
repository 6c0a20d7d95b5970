//! Where document files live, behind one trait: the local data directory by
//! default, or an S3-compatible bucket (`media::s3`). Writes are atomic: here a
//! temporary file, fsync, rename, fsync of the folder, so a crash never leaves
//! a half-written file under a real name.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A key is folders and a name (`originals/<sha256>`): nothing empty, no `.` or `..`.
pub(crate) fn checked_key(key: &str) -> std::io::Result<&str> {
    if key
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "bad storage key",
        ));
    }
    Ok(key)
}

pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key` (e.g. `originals/<sha256>`), atomically.
    fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>>;
    fn exists(&self, key: &str) -> std::io::Result<bool>;
    /// Every key under a prefix (for the start-up consistency check).
    fn list(&self, prefix: &str) -> std::io::Result<Vec<String>>;
    fn delete(&self, key: &str) -> std::io::Result<()>;
}

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        Ok(self.root.join(checked_key(key)?))
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlobStore for LocalStore {
    fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(key)?;
        let dir = path.parent().expect("keys have a folder");
        // Originals are personal data: the owner's only, whatever the umask.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            sync_dir(dir)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn get(&self, key: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(key)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, key: &str) -> std::io::Result<bool> {
        Ok(self.path(key)?.is_file())
    }

    fn list(&self, prefix: &str) -> std::io::Result<Vec<String>> {
        let dir = self.root.join(prefix);
        let mut out = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries {
                    let name = e?.file_name().to_string_lossy().into_owned();
                    if !name.starts_with(".tmp-") {
                        out.push(format!("{prefix}/{name}"));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_list_and_no_temporary_files_left() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        store.put("originals/abc", b"bytes").unwrap();
        assert_eq!(store.get("originals/abc").unwrap().unwrap(), b"bytes");
        assert_eq!(store.get("originals/nope").unwrap(), None);
        assert_eq!(store.list("originals").unwrap(), ["originals/abc"]);
        assert_eq!(
            std::fs::read_dir(dir.path().join("originals"))
                .unwrap()
                .count(),
            1
        );
        assert!(store.put("../escape", b"x").is_err());
    }
}
