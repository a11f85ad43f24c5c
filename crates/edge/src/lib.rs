//! rampart-edge
