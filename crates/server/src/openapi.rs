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

/// Said on both schemes: a request carries one of them (`rampart_core::credential`).
const ONE_CREDENTIAL: &str = "Send one credential per request: `x-api-key` and `Authorization: Bearer` together are refused with 400 ambiguous_credentials.";

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT");
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                bearer.description(Some(format!("A session, OAuth or API-key token. {ONE_CREDENTIAL}"))).build(),
            ),
        );
        let key = ApiKeyValue::with_description("x-api-key".to_owned(), format!("An API key. {ONE_CREDENTIAL}"));
        c.add_security_scheme("apiKey", SecurityScheme::ApiKey(ApiKey::Header(key)));
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    router_with(UploadLimits {
        knowledge: crate::config::KnowledgeSection::default().max_upload_bytes.0,
        meetings: crate::config::MeetingsConfig::default().max_upload_bytes.0,
    })
}

/// The largest request bodies of the upload routes (bytes).
#[derive(Clone, Copy, Debug)]
pub struct UploadLimits {
    pub knowledge: usize,
    pub meetings: usize,
}

/// Every route, with the upload routes' body limits.
pub fn router_with(limits: UploadLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::routes())
        .merge(routes::oidc::routes())
        .merge(routes::auth::routes())
        .merge(routes::me::routes())
        .merge(routes::admin::routes())
        .merge(routes::chat::routes())
        .merge(routes::conversations::routes())
        .merge(routes::prompts::routes())
        .merge(routes::attachments::routes(limits.knowledge))
        .merge(routes::bot::routes())
        .merge(routes::catalog::routes())
        .merge(routes::openai::routes())
        .merge(routes::knowledge::routes(limits.knowledge))
        .merge(routes::meetings::routes(limits.meetings))
        .merge(routes::summaries::routes())
        .merge(routes::meeting_chat::routes())
        .merge(routes::mcp::routes())
}

/// The document, for `rampart openapi` and tests.
pub fn document() -> utoipa::openapi::OpenApi {
    finish(router().split_for_parts().1)
}

/// Operation ids must be unique (OpenAPI 3.1 §4.8.10.1) and default to the handler's name,
/// which repeats across features (`list_keys` for one's own keys and for everyone's): a
/// repeated id is qualified with the operation's tag (`me_list_keys`, `admin_list_keys`).
pub fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in api.paths.paths.values() {
        for op in operations(item) {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for item in api.paths.paths.values_mut() {
        for op in operations_mut(item) {
            if let Some(id) = op.operation_id.clone()
                && seen.get(&id).copied().unwrap_or(0) > 1
            {
                let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_default().replace('-', "_");
                op.operation_id = Some(format!("{tag}_{id}"));
            }
        }
    }
    api
}

fn operations(item: &utoipa::openapi::PathItem) -> impl Iterator<Item = &utoipa::openapi::path::Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.options, &item.head, &item.patch, &item.trace]
        .into_iter()
        .filter_map(Option::as_ref)
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}
