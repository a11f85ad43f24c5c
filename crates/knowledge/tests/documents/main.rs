//! Parsing and chunking of real documents made in the test (one test binary for both).
#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

mod chunk;
mod fixtures;
mod parse;
