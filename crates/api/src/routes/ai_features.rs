//! Setting the AI up from the browser: presets for local model servers,
//! detecting them from the server, and which model serves each feature.

use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::AppState;
use aicockpit_ai::detect::{self, Detected, Preset};
use aicockpit_ai::features::{FeatureChange, FeatureModel};
use aicockpit_core::access::{can, Action, Resource};
use axum::extract::State;
use axum::Json;
use serde::Serialize;

#[utoipa::path(
    get,
    path = "/ai/presets",
    tag = "ai",
    summary = "Well-known local model servers, to prefill a new service",
    responses((status = 200, description = "OK", body = Vec<Preset>))
)]
pub(crate) async fn presets(Auth(_p): Auth) -> Json<Vec<Preset>> {
    Json(detect::local_presets())
}

#[utoipa::path(
    post,
    path = "/ai/detect",
    tag = "ai",
    summary = "Probe the usual local model server addresses from the server (admins)",
    responses((status = 200, description = "Those that answered", body = Vec<Detected>))
)]
pub(crate) async fn detect(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<Detected>>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let candidates = detect::candidates(&s.ai_detect_urls);
    Ok(Json(detect::detect(&s.ai, candidates).await))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FeaturesDto {
    features: Vec<FeatureModel>,
}

/// The features' models as the caller sees them.
async fn features_of(s: &AppState, user_id: &str) -> ApiResult<Json<FeaturesDto>> {
    let features = s.ai.registry().feature_models(user_id).await?;
    Ok(Json(FeaturesDto { features }))
}

#[utoipa::path(
    get,
    path = "/ai/features",
    tag = "ai",
    summary = "Which model serves each AI feature for the caller",
    responses((status = 200, description = "OK", body = FeaturesDto))
)]
pub(crate) async fn features(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<FeaturesDto>> {
    features_of(&s, &p.user_id).await
}

#[utoipa::path(
    put,
    path = "/ai/features/defaults",
    tag = "ai",
    summary = "Set the features' default models (admins); null clears one",
    request_body(content = std::collections::BTreeMap<String, Option<String>>,
        description = "Feature (chat, completion, edit, command_help, agent) to model"),
    responses((status = 200, description = "OK", body = FeaturesDto))
)]
pub(crate) async fn set_defaults(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(change): ApiJson<FeatureChange>,
) -> ApiResult<Json<FeaturesDto>> {
    can(&p, Action::Administer, Resource::Instance)?;
    s.ai.registry()
        .set_feature_models(&p.actor(), None, &change)
        .await?;
    features_of(&s, &p.user_id).await
}

#[utoipa::path(
    put,
    path = "/ai/features/mine",
    tag = "ai",
    summary = "Choose your own model per feature; null goes back to the default",
    request_body(content = std::collections::BTreeMap<String, Option<String>>,
        description = "Feature (chat, completion, edit, command_help, agent) to model"),
    responses((status = 200, description = "OK", body = FeaturesDto))
)]
pub(crate) async fn set_mine(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(change): ApiJson<FeatureChange>,
) -> ApiResult<Json<FeaturesDto>> {
    s.ai.registry()
        .set_feature_models(&p.actor(), Some(&p.user_id), &change)
        .await?;
    features_of(&s, &p.user_id).await
}
