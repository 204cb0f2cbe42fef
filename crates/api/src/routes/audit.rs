//! The audit log over HTTP, read-only (there is no route that changes it).

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth};
use crate::AppState;
use aicockpit_core::access::{can, sees_all_workspaces, Action, Resource};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Workspace id or name (required for non-admins).
    workspace: Option<String>,
    /// A user id or username, or an actor as recorded (`agent:<run>`,
    /// `cli:<user>`, `system`).
    actor: Option<String>,
    /// Actions starting with this (`workspace.` finds them all).
    action: Option<String>,
    /// From this time, in ms since the epoch.
    since: Option<i64>,
    /// Up to this time, in ms since the epoch.
    until: Option<i64>,
    /// Rows older than this seq, newest first (paging backwards).
    before: Option<i64>,
    /// Rows after this seq, oldest first (the default, paging forwards).
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditDto {
    seq: i64,
    at: String,
    actor: String,
    workspace_id: Option<String>,
    action: String,
    detail: Value,
    decision: Option<String>,
    approved_by: Option<String>,
    result: Option<String>,
    hash: String,
}

#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    summary = "Audit rows (admins all; others per workspace)",
    params(AuditQuery),
    responses((status = 200, description = "OK", body = Vec<AuditDto>))
)]
/// The audit log, read-only (there is no route that changes it). Admins see
/// everything; others the entries of workspaces they can see.
pub(crate) async fn audit(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditDto>>> {
    let ws_id = match &q.workspace {
        Some(w) => Some(s.workspaces.id_of(&p, w, Action::View).await?),
        None if sees_all_workspaces(&p) => None,
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "give ?workspace= (only admins read the whole log)",
            ))
        }
    };
    let bounded = |v: &Option<String>| v.as_ref().is_some_and(|v| v.len() > 200);
    if bounded(&q.actor) || bounded(&q.action) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "actor and action are at most 200 bytes",
        ));
    }
    // Rows name users by id; people search by name.
    let actor = match q.actor.filter(|a| !a.is_empty()) {
        Some(a) => match s.auth.user_by_name(&a).await {
            Ok(u) => Some(u.id),
            Err(_) => Some(a),
        },
        None => None,
    };
    let filter = aicockpit_store::AuditFilter {
        workspace_id: ws_id,
        actor,
        action_prefix: q.action.filter(|a| !a.is_empty()),
        since: q.since,
        until: q.until,
        before: q.before,
        after: q.after,
        limit: q.limit.unwrap_or(200).clamp(1, 1000),
    };
    let rows = s
        .store
        .audit_search(&filter)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditDto {
                seq: r.seq,
                at: aicockpit_core::format_ms(r.at),
                actor: r.actor,
                workspace_id: r.workspace_id,
                action: r.action,
                detail: serde_json::from_str(&r.detail).unwrap_or(Value::Null),
                decision: r.decision,
                approved_by: r.approved_by,
                result: r.result,
                hash: r.hash,
            })
            .collect(),
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/audit/export",
    tag = "audit",
    summary = "The raw chain with its recipe, for independent verification (admins)",
    params(ExportQuery),
    responses((status = 200, description = "OK", body = Object))
)]
/// The audit log as stored, every field that enters the hash exactly as
/// hashed, with the recipe: anyone can recompute the chain from this alone.
/// Pages by `after` (a row's seq); admins only.
pub(crate) async fn audit_export(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Json<Value>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let limit = q.limit.unwrap_or(10_000).clamp(1, 10_000);
    let rows = s
        .store
        .audit_rows(None, q.after, limit)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    // The database's head: rows appended by another process (the CLI)
    // count too.
    let head = s
        .store
        .audit_head()
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(Json(aicockpit_core::audit::export_json(&rows, head)))
}

/// Whether the chain holds, as `audit verify` checks it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VerifyDto {
    ok: bool,
    /// Rows checked.
    rows: u64,
    /// The first row that does not fit, and why.
    broken_seq: Option<i64>,
    broken_reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/audit/verify",
    tag = "audit",
    summary = "Check the whole hash chain and the published head (admins)",
    responses((status = 200, description = "OK", body = VerifyDto))
)]
pub(crate) async fn audit_verify(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<VerifyDto>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let report = s
        .audit
        .verify()
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(Json(VerifyDto {
        ok: report.broken.is_none(),
        rows: report.rows,
        broken_seq: report.broken.as_ref().map(|b| b.0),
        broken_reason: report.broken.map(|b| b.1),
    }))
}
