//! Per-user quotas: each user's own, and admins' settings per user.

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::AppState;
use aicockpit_core::workspaces::quota::{Holding, Quota, QuotaOverride};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

/// Quota figures (in `limits`, 0 means no limit).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QuotaFigures {
    pub workspaces: u32,
    /// Running at once.
    pub running: u32,
    /// CPUs of the running workspaces together.
    pub cpus: f64,
    /// Memory of the running workspaces together, in MiB.
    pub memory_mb: i64,
}

/// A user's quota in force, and what they hold now.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QuotaDto {
    pub limits: QuotaFigures,
    pub used: QuotaFigures,
    /// The user's own settings (null: the server's default), for admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own: Option<QuotaSettings>,
}

/// A user's own quota: null fields follow the server's default, 0 is no
/// limit.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaSettings {
    #[serde(default)]
    pub workspaces: Option<u32>,
    #[serde(default)]
    pub running: Option<u32>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub cpus: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub memory_mb: Option<i64>,
}

impl From<QuotaOverride> for QuotaSettings {
    fn from(o: QuotaOverride) -> Self {
        QuotaSettings {
            workspaces: o.workspaces,
            running: o.running,
            cpus: o.cpus,
            memory_mb: o.memory_mb,
        }
    }
}

fn dto(q: Quota, h: Holding, own: Option<QuotaOverride>) -> QuotaDto {
    QuotaDto {
        limits: QuotaFigures {
            workspaces: q.workspaces,
            running: q.running,
            cpus: q.cpus,
            memory_mb: q.memory_mb,
        },
        used: QuotaFigures {
            workspaces: h.workspaces,
            running: h.running,
            cpus: h.cpus,
            memory_mb: h.memory_mb,
        },
        own: own.map(QuotaSettings::from),
    }
}

#[utoipa::path(
    get,
    path = "/quota",
    tag = "users",
    summary = "The caller's quota and what they hold",
    responses((status = 200, description = "OK", body = QuotaDto))
)]
pub(crate) async fn mine(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<QuotaDto>> {
    let (q, h) = s.workspaces.my_quota(&p).await?;
    Ok(Json(dto(q, h, None)))
}

#[utoipa::path(
    get,
    path = "/users/{id}/quota",
    tag = "users",
    summary = "A user's quota, own settings and holding (admins)",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "OK", body = QuotaDto))
)]
pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<QuotaDto>> {
    let (q, h, own) = s.workspaces.user_quota(&p, &id).await?;
    Ok(Json(dto(q, h, Some(own))))
}

#[utoipa::path(
    put,
    path = "/users/{id}/quota",
    tag = "users",
    summary = "Set a user's own quota (admins)",
    params(("id" = String, Path, description = "User id")),
    request_body = QuotaSettings,
    responses((status = 200, description = "OK", body = QuotaDto))
)]
pub(crate) async fn set(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<QuotaSettings>,
) -> ApiResult<Json<QuotaDto>> {
    let own = QuotaOverride {
        workspaces: req.workspaces,
        running: req.running,
        cpus: req.cpus,
        memory_mb: req.memory_mb,
    };
    let (q, h, own) = s.workspaces.set_user_quota(&p, &id, own).await?;
    Ok(Json(dto(q, h, Some(own))))
}
