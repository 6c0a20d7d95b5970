//! Rebuilds the binary when anything under `pwa/` changes, including a new
//! file: the embedded field app is read at compile time, and the derive alone
//! only notices changes to files it already embedded.

fn main() {
    println!("cargo:rerun-if-changed=pwa");
    println!("cargo:rerun-if-changed=migrations");
}
