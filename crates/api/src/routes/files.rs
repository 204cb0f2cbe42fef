//! Files, search and watching in a workspace, served by its agent.
//! Paths travel in the query string (`?path=src/main.rs`), relative to
//! /workspace; the agent refuses anything that leaves it.

use crate::body::body_stream;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::AppState;
use aicockpit_core::files::WriteMode;
use aicockpit_core::workspace_agent::ChannelMsg;
use aicockpit_core::CoreError;
use aicockpit_workspace_agent_proto::{Event, FileMeta, SearchQuery, SearchResult};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request as HttpRequest, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use tokio::sync::mpsc;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathQuery {
    #[serde(default)]
    path: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteQuery {
    path: String,
    #[serde(default)]
    recursive: bool,
}

/// The data of a channel as a body stream; ends when the agent sends EOF.
fn channel_body(rx: mpsc::Receiver<ChannelMsg>) -> impl Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await? {
                ChannelMsg::Data(b) => return Some((Ok(b), rx)),
                ChannelMsg::Event(_) => continue,
            }
        }
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default)]
    path: String,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/files",
    tag = "files",
    summary = "One page of a directory listing (X-Total-Count, Link rel=next)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), ListQuery),
    responses((status = 200, description = "The page's entries, directories first, then by name", body = Vec<aicockpit_workspace_agent_proto::DirEntry>, headers(("x-total-count" = usize, description = "Entries in the whole directory"), ("link" = String, description = "`<…>; rel=\"next\"` when there is a next page"))))
)]
/// One page of a directory (at most 1000 entries): the entries as a JSON
/// array; `X-Total-Count` says how many there are, and `Link: <…>;
/// rel="next"` where the next page starts.
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = s.files.list(&p, &id, &q.path, q.offset, q.limit).await?;
    let mut r = Json(page.entries).into_response();
    let h = r.headers_mut();
    h.insert("x-total-count", HeaderValue::from(page.total));
    if let Some(next) = page.next_offset {
        let query =
            serde_urlencoded::to_string([("path", q.path.as_str()), ("offset", &next.to_string())])
                .unwrap_or_default();
        let link = format!("</api/v1/workspaces/{id}/files?{query}>; rel=\"next\"");
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert(header::LINK, v);
        }
    }
    Ok(r)
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/files/stat",
    tag = "files",
    summary = "A file's metadata (ETag)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), PathQuery),
    responses((status = 200, description = "OK", body = FileMeta))
)]
pub(crate) async fn stat(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Response> {
    let meta = s.files.stat(&p, &id, &q.path).await?;
    let etag = meta.etag.clone();
    Ok(with_etag(&etag, Json(meta)))
}

fn with_etag(etag: &str, body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/files/content",
    tag = "files",
    summary = "A file's bytes, streamed (ETag)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), PathQuery),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>))
)]
pub(crate) async fn read(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Response> {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        let meta = s.files.stat(&p, &id, &q.path).await?;
        if inm == meta.etag {
            return Ok(with_etag(&meta.etag, StatusCode::NOT_MODIFIED));
        }
    }
    let reading = s.files.open(&p, &id, &q.path).await?;
    let meta = reading.meta;
    let mut r = Response::new(Body::from_stream(channel_body(reading.data)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&meta.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&meta.mtime_ms.to_string()) {
        h.insert("x-aicockpit-mtime-ms", v);
    }
    Ok(r)
}

#[utoipa::path(
    put,
    path = "/workspaces/{id}/files/content",
    tag = "files",
    summary = "Write a file from the request body (If-Match, If-None-Match: *)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), PathQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "OK", body = FileMeta))
)]
pub(crate) async fn write(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PathQuery>,
    body: Body,
) -> ApiResult<Response> {
    let mode = WriteMode {
        if_match: headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        create_only: headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some("*"),
    };
    let meta = s
        .files
        .write_stream(&p, &id, &q.path, mode, body_stream(body))
        .await?;
    let etag = meta.etag.clone();
    Ok(with_etag(&etag, Json(meta)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MkdirBody {
    path: String,
    #[serde(default = "yes")]
    parents: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/files/mkdir",
    tag = "files",
    summary = "Make a directory",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = MkdirBody,
    responses((status = 201, description = "Created", body = FileMeta))
)]
pub(crate) async fn mkdir(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<MkdirBody>,
) -> ApiResult<(StatusCode, Json<FileMeta>)> {
    let meta = s.files.mkdir(&p, &id, &b.path, b.parents).await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameBody {
    from: String,
    to: String,
    #[serde(default)]
    overwrite: bool,
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/files/rename",
    tag = "files",
    summary = "Move or rename",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces")),
    request_body = RenameBody,
    responses((status = 200, description = "OK", body = FileMeta))
)]
pub(crate) async fn rename(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<RenameBody>,
) -> ApiResult<Json<FileMeta>> {
    let meta = s.files.rename(&p, &id, &b.from, &b.to, b.overwrite).await?;
    Ok(Json(meta))
}

#[utoipa::path(
    delete,
    path = "/workspaces/{id}/files",
    tag = "files",
    summary = "Delete a file or directory",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), DeleteQuery),
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    s.files.delete(&p, &id, &q.path, q.recursive).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A multipart upload (documentation of the form; the handler streams parts).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct UploadForm {
    /// One or more files.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// What an upload wrote.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(crate) enum Uploaded {
    Files { files: Vec<FileMeta> },
    Archive(aicockpit_workspace_agent_proto::ArchiveStats),
}

#[utoipa::path(
    post,
    path = "/workspaces/{id}/files/upload",
    tag = "files",
    summary = "Upload files (multipart) or unpack a tar, tar.gz or zip archive into a directory",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), PathQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "Files, each part's file name a path under `path`; or send one archive as application/x-tar, application/gzip or application/zip instead"),
    responses((status = 201, description = "Written: the files' metadata (multipart), or the archive's counts", body = Uploaded))
)]
/// Several files (`multipart/form-data`, each part's file name a path under
/// `path`) or one archive (`application/x-tar`, `application/gzip`) unpacked
/// under `path`.
pub(crate) async fn upload(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
    req: HttpRequest,
) -> ApiResult<Response> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &()).await.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_multipart", e.body_text())
        })?;
        let mut written = Vec::new();
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_multipart",
                        e.body_text(),
                    ))
                }
            };
            let Some(name) = field.file_name().map(str::to_owned) else {
                continue;
            };
            let path = if q.path.is_empty() {
                name
            } else {
                format!("{}/{name}", q.path.trim_end_matches('/'))
            };
            let stream = field
                .map(|r| r.map_err(|e| CoreError::invalid("invalid_multipart", e.body_text())));
            let meta = s
                .files
                .write_stream(&p, &id, &path, WriteMode::default(), Box::pin(stream))
                .await?;
            written.push(meta);
        }
        let files = Uploaded::Files { files: written };
        return Ok((StatusCode::CREATED, Json(files)).into_response());
    }
    let is_archive = [
        "application/x-tar",
        "application/gzip",
        "application/x-gzip",
        "application/x-gtar",
        "application/tar",
        "application/zip",
        "application/x-zip-compressed",
    ]
    .iter()
    .any(|t| ct.starts_with(t));
    if !is_archive {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "upload multipart/form-data files or an application/x-tar, application/gzip or application/zip archive",
        ));
    }
    let body = body_stream(req.into_body());
    let stats = s.files.unpack(&p, &id, &q.path, body).await?;
    let archive = Uploaded::Archive(stats);
    Ok((StatusCode::CREATED, Json(archive)).into_response())
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/files/archive",
    tag = "files",
    summary = "A directory as a tar.gz, streamed",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), PathQuery),
    responses((status = 200, description = "A gzip-compressed tar archive", content_type = "application/gzip", body = Vec<u8>))
)]
pub(crate) async fn archive(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Response> {
    let name = q
        .path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("workspace")
        .replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-' && c != '_',
            "_",
        );
    let rx = s.files.pack(&p, &id, &q.path).await?;
    let mut r = Response::new(Body::from_stream(channel_body(rx)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.tar.gz\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/files/watch",
    tag = "files",
    summary = "Changes under a path as server-sent events (event: changes)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), PathQuery),
    responses((status = 200, description = "Server-sent events; each `changes` event's data is a JSON array of FsChange", content_type = "text/event-stream", body = crate::sse::StreamEvent))
)]
/// Server-sent events: `event: changes` with `{"changes": [{kind, path}]}`.
pub(crate) async fn watch(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<impl IntoResponse> {
    let watching = s.files.watch(&p, &id, &q.path).await?;
    Ok(crate::sse::of_watch(watching, |ev| match ev {
        Event::Fs { changes, .. } => SseEvent::default()
            .event("changes")
            .json_data(json!({ "changes": changes }))
            .ok(),
        _ => None,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    q: String,
    #[serde(default)]
    regex: bool,
    /// `smart` (default), `sensitive` or `insensitive`.
    case: Option<String>,
    /// Comma-separated globs; `!` excludes.
    globs: Option<String>,
    #[serde(default)]
    path: String,
    max: Option<usize>,
    #[serde(default)]
    include_ignored: bool,
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/search",
    tag = "files",
    summary = "Text or regex search, honouring .gitignore",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), SearchParams),
    responses((status = 200, description = "OK", body = SearchResult))
)]
pub(crate) async fn search(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchResult>> {
    let case_sensitive = match q.case.as_deref() {
        None | Some("smart") => None,
        Some("sensitive") => Some(true),
        Some("insensitive") => Some(false),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "case must be smart, sensitive or insensitive",
            ))
        }
    };
    let query = SearchQuery {
        query: q.q,
        regex: q.regex,
        case_sensitive,
        globs: q
            .globs
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        path: q.path,
        max_results: q.max.unwrap_or(1000),
        include_ignored: q.include_ignored,
    };
    Ok(Json(s.files.search(&p, &id, query).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindParams {
    q: String,
    max: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}/search/files",
    tag = "files",
    summary = "File-name search (quick open)",
    params(("id" = String, Path, description = "Workspace id, or the name of one of the caller's workspaces"), FindParams),
    responses((status = 200, description = "OK", body = Vec<String>))
)]
pub(crate) async fn find_files(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<FindParams>,
) -> ApiResult<Json<Vec<String>>> {
    let found = s.files.find(&p, &id, &q.q, q.max.unwrap_or(50)).await?;
    Ok(Json(found))
}
