//! Cursor pagination shared by every list.

use serde::{Deserialize, Serialize};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 100;

/// What a caller asks for: a page size and an opaque cursor from the previous page.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The effective limit, clamped to `1..=MAX_PAGE_SIZE`.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
    }
    /// Rejects out-of-range limits instead of silently clamping them.
    pub fn validate(&self) -> Result<(), crate::ErrorCode> {
        match self.limit {
            Some(l) if l == 0 || l > MAX_PAGE_SIZE => Err(crate::ErrorCode::InvalidRequest),
            _ => Ok(()),
        }
    }
}

/// One page of results.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}
