//! rampart-identity
