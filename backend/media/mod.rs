//! Photographed documents: the pipeline and the storage behind it.

pub mod pipeline;
pub mod s3;
pub mod storage;

use sha2::{Digest, Sha256};

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
