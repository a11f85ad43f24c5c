//! Makes cargo rebuild this crate when the web app's bundle (`web/dist`) changes, in builds
//! that embed it.
//!
//! `rust-embed` embeds `web/dist` in builds without debug assertions (release) through
//! `include_bytes!`, so cargo notices a changed file it already embedded, but not a new or
//! removed one (Vite names assets by content hash), nor a bundle that appeared after a build
//! without one: `cargo build --release` after `npm run build` kept the stale or missing app.
//! A directory given to `rerun-if-changed` is scanned whole, so any change under `web/dist`
//! reruns this script and rebuilds the crate. While `web/dist` is missing cargo reruns it on
//! every build, which rebuilds the crate until the bundle exists.
//!
//! Debug builds read the bundle from disk at run time (nothing embedded): no rebuild needed.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_none() {
        println!("cargo::rerun-if-changed=../../web/dist");
    }
}
