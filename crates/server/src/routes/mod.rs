//! One router per feature; handlers parse, call a service, map the result.

pub mod admin;
pub mod auth;
pub mod bot;
pub mod catalog;
pub mod chat;
pub mod health;
pub mod knowledge;
pub mod me;
pub mod oidc;
pub mod openai;
pub mod realtime;
pub mod views;
