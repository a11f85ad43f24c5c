//! The OpenAPI 3.1 document, generated from the handlers' annotations: a route is only
//! reachable if it is registered here through `routes!`, so the document covers every route.

use crate::routes;
use crate::state::AppState;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "Rampart", description = "Self-hosted, security-first GenAI assistant platform."),
    components(schemas(rampart_core::error::ErrorBody, rampart_core::ErrorCode)),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        c.add_security_scheme("apiKey", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    router_with(crate::config::KnowledgeSection::default().max_upload_bytes)
}

/// Every route; uploads to knowledge bases may be up to `max_upload` bytes.
pub fn router_with(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::routes())
        .merge(routes::oidc::routes())
        .merge(routes::auth::routes())
        .merge(routes::me::routes())
        .merge(routes::admin::routes())
        .merge(routes::chat::routes())
        .merge(routes::bot::routes())
        .merge(routes::catalog::routes())
        .merge(routes::openai::routes())
        .merge(routes::knowledge::routes(max_upload))
}

/// The document, for `rampart openapi` and tests.
pub fn document() -> utoipa::openapi::OpenApi {
    router().split_for_parts().1
}
