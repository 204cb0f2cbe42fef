//! Rebuild when the web app's build output changes (files added or removed
//! change the directory's mtime; rust-embed tracks the files themselves).
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
    println!("cargo:rerun-if-changed=../../web/dist/index.html");
    println!("cargo:rerun-if-changed=../../web/dist/assets");
}
