//! The one place handlers put a change on the audit record (what core does
//! not record itself). A row that cannot be written is logged as an error;
//! nothing secret goes into a row: paths, sizes and ETags, never contents;
//! key *names* and URLs, never keys.

use crate::AppState;
use aicockpit_core::audit::Entry;
use aicockpit_core::auth::Principal;
use serde_json::Value;

pub(crate) async fn record(
    s: &AppState,
    p: &Principal,
    workspace: Option<&str>,
    action: &str,
    detail: Value,
) {
    record_as(s, &p.user_id, workspace, action, detail, "ok").await;
}

/// The same for an actor that is not an authenticated caller (a login).
pub(crate) async fn record_as(
    s: &AppState,
    actor: &str,
    workspace: Option<&str>,
    action: &str,
    detail: Value,
    result: &str,
) {
    let e = Entry {
        actor: actor.to_owned(),
        workspace_id: workspace.map(str::to_owned),
        action: action.to_owned(),
        detail,
        decision: None,
        approved_by: None,
        result: Some(result.to_owned()),
    };
    if let Err(err) = s.agents.audit().record(e).await {
        tracing::error!(error = %err, action, "could not append to the audit log");
    }
}

/// The same for a change in a workspace named by the caller's id or name.
pub(crate) async fn in_workspace(
    s: &AppState,
    p: &Principal,
    ws: &str,
    action: &str,
    detail: Value,
) {
    let id = s.workspaces.id_of(p, ws).await.ok();
    record(s, p, id.as_deref().or(Some(ws)), action, detail).await;
}
