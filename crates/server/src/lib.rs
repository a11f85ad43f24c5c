//! rampart-server
