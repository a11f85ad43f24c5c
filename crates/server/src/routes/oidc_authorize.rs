//! The OAuth 2.0 / OpenID Connect authorization endpoint: the browser enters at
//! `GET /oauth2/authorize` and is sent to the web app's `/authorize` page, which drives
//! `POST /oauth2/authorize` (sign in, consent) until it gets the redirect back to the client.

use crate::error::ApiError;
use crate::extract::{Json, MaybeUser, Meta, Query};
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use rampart_core::ErrorCode;
use rampart_core::error::ErrorBody;
use rampart_identity::oauth::{AuthorizeError, AuthorizeParams, AuthorizeStep, Decision};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(authorize_start, authorize_step))
}

/// The client's redirect URI with `error`, `error_description`, `state` and `iss`.
fn error_url(redirect_uri: &str, error: &str, description: &str, state: Option<&str>, iss: &str) -> Option<String> {
    let mut u = url::Url::parse(redirect_uri).ok()?;
    u.query_pairs_mut().append_pair("error", error).append_pair("error_description", description);
    if let Some(s) = state {
        u.query_pairs_mut().append_pair("state", s);
    }
    u.query_pairs_mut().append_pair("iss", iss);
    Some(u.into())
}

fn bad_client(msg: &'static str) -> Response {
    ApiError::new(ErrorCode::InvalidRequest, msg).into_response()
}

/// Starts the authorization code flow (browser). A bad client or redirect URI is answered
/// here; other errors go back to the client. A valid request is sent on to the web app's
/// `/authorize` page (sign-in and consent), which completes it with `POST /oauth2/authorize`.
/// Parameters this server does not know are ignored.
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oidc", params(AuthorizeParams),
    responses((status = 303, description = "To the sign-in and consent page, or back to the client with an error"), (status = 400, body = ErrorBody)))]
async fn authorize_start(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    match s.identity.validate_authorize(&p) {
        Ok(v) if v.prompt.login => {
            let query = stamped(uri.query().unwrap_or(""), s.identity.now().millis());
            Redirect::to(&format!("/authorize?{query}")).into_response()
        }
        Ok(_) => Redirect::to(&format!("/authorize?{}", uri.query().unwrap_or(""))).into_response(),
        Err(AuthorizeError::Redirect { redirect_uri, error, description, state }) => {
            match error_url(&redirect_uri, error, description, state.as_deref(), &s.identity.config().issuer) {
                Some(u) => Redirect::to(&u).into_response(),
                None => bad_client("redirect_uri is not a URL"),
            }
        }
        Err(AuthorizeError::BadClient(msg)) => bad_client(msg),
        Err(AuthorizeError::NotASession) => ApiError::code(ErrorCode::Forbidden).into_response(),
    }
}

/// The request's query with `login_after` (see `AuthorizeParams::login_after`) set to `now_ms`,
/// replacing any the client sent.
fn stamped(query: &str, now_ms: i64) -> String {
    let kept = url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "login_after");
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .append_pair("login_after", &now_ms.to_string())
        .finish()
}

/// The authorization request's parameters (as received by `GET /oauth2/authorize`) and, from
/// the consent screen, the user's decision.
#[derive(Deserialize, ToSchema)]
pub struct AuthorizeRequest {
    #[serde(flatten)]
    pub params: AuthorizeParams,
    pub decision: Option<Decision>,
}

/// The application asking.
#[derive(Serialize, ToSchema)]
pub struct ClientView {
    pub id: String,
    pub name: String,
}

/// What the page does next.
#[derive(Serialize, ToSchema)]
#[serde(tag = "next", rename_all = "lowercase")]
pub enum AuthorizeNext {
    /// Send the browser to `redirectTo` (the client, with a code or an error).
    Redirect {
        #[serde(rename = "redirectTo")]
        redirect_to: String,
    },
    /// Sign the user in (again), then ask again.
    Login { client: ClientView },
    /// Ask the user whether `client` may have `scopes`, then ask again with the decision.
    Consent { client: ClientView, scopes: Vec<String> },
}

/// One step of an authorization request, for the web app's `/authorize` page: without a
/// sign-in (or with one that is too old for `prompt=login` / `max_age`) the answer is `login`
/// (or, with `prompt=none`, the redirect with `login_required`); without remembered consent
/// for the scopes (or with `prompt=consent`) it is `consent`; otherwise a single-use code valid
/// for 60 s is issued and the answer is the redirect with `code`, `state` and `iss`.
/// A session token of Rampart's own app only; other credentials are refused.
#[utoipa::path(post, path = "/oauth2/authorize", tag = "oidc", request_body = AuthorizeRequest,
    responses((status = 200, body = AuthorizeNext), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn authorize_step(
    State(s): State<AppState>,
    Meta(m): Meta,
    MaybeUser(p): MaybeUser,
    Json(req): Json<AuthorizeRequest>,
) -> Response {
    let client = |id, name| ClientView { id, name };
    match s.identity.authorize(p.as_ref(), &req.params, req.decision, &m).await {
        Ok(AuthorizeStep::Redirect(url)) => axum::Json(AuthorizeNext::Redirect { redirect_to: url }).into_response(),
        Ok(AuthorizeStep::Login { client_id, client_name }) => {
            axum::Json(AuthorizeNext::Login { client: client(client_id, client_name) }).into_response()
        }
        Ok(AuthorizeStep::Consent { client_id, client_name, scopes }) => {
            axum::Json(AuthorizeNext::Consent { client: client(client_id, client_name), scopes }).into_response()
        }
        Err(AuthorizeError::Redirect { redirect_uri, error, description, state }) => {
            match error_url(&redirect_uri, error, description, state.as_deref(), &s.identity.config().issuer) {
                Some(u) => axum::Json(AuthorizeNext::Redirect { redirect_to: u }).into_response(),
                None => bad_client("redirect_uri is not a URL"),
            }
        }
        Err(AuthorizeError::BadClient(msg)) => bad_client(msg),
        Err(AuthorizeError::NotASession) => {
            ApiError::new(ErrorCode::Forbidden, "This needs a signed-in Rampart session.").into_response()
        }
    }
}
