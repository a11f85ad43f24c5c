//! Parsing and chunking of real documents made in the test (one test binary for both).
#![allow(clippy::unwrap_used)]

mod chunk;
mod fixtures;
mod parse;
