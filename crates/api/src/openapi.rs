//! The OpenAPI 3.1 document: the parts no handler states (title, the bearer
//! scheme, the error shape every operation may answer with), added around
//! what `#[utoipa::path]` on each handler describes. Served at
//! `/api/v1/openapi.json`; `docs/openapi.json` is the checked-in copy a test
//! keeps equal to it, and the web app's API types are generated from it.

use axum::http::header;
use axum::response::IntoResponse;
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// Every API error: `{"error": {"code", "message"}}` (the `/v1` gateway
/// uses OpenAI's shape, which has the same `error` object with more fields).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the shape `ApiError` writes
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorDetail {
    /// Stable, machine-readable (`not_found`, `invalid_request`, …).
    code: Option<String>,
    /// For people.
    message: String,
}

/// The document's frame, before the handlers' paths are merged in.
pub(crate) fn base() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("AiCockpit")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Workspaces, their files and terminals, AI services, agent runs and the \
                     audit log. Authenticate with `Authorization: Bearer <token>` (a session \
                     from POST /api/v1/auth/login or an API token).",
                ))
                .build(),
        )
        .build()
}

/// Adds the bearer scheme (required everywhere except where an operation
/// says `security(())`) and the error response to every operation.
pub(crate) fn finish(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    components
        .schemas
        .insert(ErrorDetail::name().into_owned(), ErrorDetail::schema());
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            add_error_response(op);
            name_uniquely(op);
        }
    }
    doc
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// `files_list` rather than `list`: operation ids are unique across the
/// document, as generated clients need (the handler's name within its area).
fn name_uniquely(op: &mut Operation) {
    if let (Some(tag), Some(id)) = (op.tags.as_ref().and_then(|t| t.first()), &op.operation_id) {
        op.operation_id = Some(format!("{tag}_{id}"));
    }
}

fn add_error_response(op: &mut Operation) {
    let error = ResponseBuilder::new()
        .description("An error: the status says which kind, the body what happened")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name(ErrorBody::name()))))
                .build(),
        )
        .build();
    let mut responses = ResponsesBuilder::new().build();
    std::mem::swap(&mut responses, &mut op.responses);
    op.responses = ResponsesBuilder::from(responses)
        .response("default", error)
        .build();
}

/// `GET /api/v1/openapi.json`: public, like the product's documentation.
pub(crate) async fn serve() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let json = DOC.get_or_init(|| {
        crate::openapi_document()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    });
    ([(header::CONTENT_TYPE, "application/json")], json.clone())
}

#[cfg(test)]
mod tests {
    /// `docs/openapi.json` is what the server serves: CI fails when a
    /// handler's contract changes without the checked-in document (and the
    /// web app's types generated from it) following.
    /// `AICOCKPIT_WRITE_OPENAPI=1 cargo test -p aicockpit-api openapi` rewrites it.
    #[test]
    fn the_checked_in_document_is_the_served_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let now = crate::openapi_document()
            .to_pretty_json()
            .expect("the document serializes")
            + "\n";
        if std::env::var_os("AICOCKPIT_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &now).expect("write docs/openapi.json");
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == now,
            "docs/openapi.json differs from the API: run \
             `AICOCKPIT_WRITE_OPENAPI=1 cargo test -p aicockpit-api openapi` and commit it"
        );
    }

    #[test]
    fn every_operation_is_documented_with_its_errors_and_auth() {
        let doc = crate::openapi_document();
        assert!(doc.paths.paths.len() > 50, "{}", doc.paths.paths.len());
        for (path, item) in &doc.paths.paths {
            for op in super::operations(&mut item.clone()) {
                assert!(op.responses.responses.contains_key("default"), "{path}");
                assert!(op.summary.is_some(), "{path} has no summary");
            }
        }
        let json = doc.to_json().expect("serializes");
        assert!(json.contains("\"openapi\":\"3.1.0\""), "OpenAPI 3.1");
        let public = ["/api/v1/auth/login", "/health", "/ready"];
        for p in public {
            let item = &doc.paths.paths[p];
            let op = item
                .get
                .as_ref()
                .or(item.post.as_ref())
                .expect("an operation");
            assert_eq!(op.security.as_ref().map(Vec::len), Some(1), "{p} is public");
        }
    }
}
