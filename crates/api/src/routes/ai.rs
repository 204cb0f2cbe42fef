//! The AI service registry: `/api/v1/ai/...`. Admins manage services;
//! everyone signed in can list them and see their own usage.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::AppState;
use aicockpit_ai::registry::{Service, ServiceInput};
use aicockpit_core::access::{can, Action, Resource};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TimeoutsDto {
    connect_ms: u128,
    first_byte_ms: u128,
    idle_ms: u128,
}

/// A service as shown: never its key or header values.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ServiceDto {
    id: String,
    name: String,
    kind: &'static str,
    base_url: String,
    default_model: Option<String>,
    has_api_key: bool,
    header_names: Vec<String>,
    azure_deployment: Option<String>,
    azure_api_version: Option<String>,
    timeouts: TimeoutsDto,
    fallback: Option<String>,
    active: bool,
    /// The last "Test", if there was one.
    last_test: Option<aicockpit_ai::features::LastTest>,
}

/// A service as shown, with its last test.
async fn shown(st: &AppState, s: &Service, active: Option<&str>) -> ApiResult<ServiceDto> {
    let mut d = dto(s, active);
    d.last_test = st.ai.registry().last_test(&s.id).await?;
    Ok(d)
}

fn dto(s: &Service, active: Option<&str>) -> ServiceDto {
    ServiceDto {
        id: s.id.clone(),
        name: s.name.clone(),
        kind: s.kind.as_str(),
        base_url: s.base_url.clone(),
        default_model: s.default_model.clone(),
        has_api_key: s.api_key.is_some(),
        header_names: s.header_names.clone(),
        azure_deployment: s.azure_deployment.clone(),
        azure_api_version: s.azure_api_version.clone(),
        timeouts: TimeoutsDto {
            connect_ms: s.connect_timeout.as_millis(),
            first_byte_ms: s.first_byte_timeout.as_millis(),
            idle_ms: s.idle_timeout.as_millis(),
        },
        fallback: s.fallback_id.clone(),
        active: active == Some(s.id.as_str()),
        last_test: None,
    }
}

/// The kinds of AI service, as the API names them (for the document: the
/// registry parses the name itself, so an unknown one is `invalid_kind`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum KindName {
    Openai,
    AzureOpenai,
    LmStudio,
    Ollama,
    Vllm,
    Custom,
}

/// A new service: a name and a kind at least (local kinds have a default
/// base URL).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewServiceBody {
    #[schema(pattern = "^[a-z0-9._-]{1,64}$")]
    name: String,
    #[schema(value_type = KindName)]
    kind: String,
    #[schema(pattern = "^https?://[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9/._-]*)?$")]
    base_url: Option<String>,
    /// Write-only: never returned.
    api_key: Option<String>,
    /// Extra headers sent upstream (values write-only).
    headers: Option<BTreeMap<String, String>>,
    default_model: Option<String>,
    azure_deployment: Option<String>,
    azure_api_version: Option<String>,
    connect_timeout_ms: Option<i64>,
    first_byte_timeout_ms: Option<i64>,
    idle_timeout_ms: Option<i64>,
    /// Name of the service to use when this one fails before answering.
    fallback: Option<String>,
}

/// Changes to a service: only what is given changes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceBody {
    #[schema(pattern = "^[a-z0-9._-]{1,64}$")]
    name: Option<String>,
    #[schema(value_type = Option<KindName>)]
    kind: Option<String>,
    #[schema(pattern = "^https?://[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9/._-]*)?$")]
    base_url: Option<String>,
    /// Write-only: never returned.
    api_key: Option<String>,
    /// Extra headers sent upstream (values write-only).
    headers: Option<BTreeMap<String, String>>,
    default_model: Option<String>,
    azure_deployment: Option<String>,
    azure_api_version: Option<String>,
    connect_timeout_ms: Option<i64>,
    first_byte_timeout_ms: Option<i64>,
    idle_timeout_ms: Option<i64>,
    /// Name of the service to use when this one fails before answering.
    fallback: Option<String>,
}

/// The fields both bodies share, on their way to the registry.
struct ServiceFields {
    base_url: Option<String>,
    api_key: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    default_model: Option<String>,
    azure_deployment: Option<String>,
    azure_api_version: Option<String>,
    connect_timeout_ms: Option<i64>,
    first_byte_timeout_ms: Option<i64>,
    idle_timeout_ms: Option<i64>,
    fallback: Option<String>,
}

macro_rules! service_fields {
    ($b:expr) => {
        ServiceFields {
            base_url: $b.base_url,
            api_key: $b.api_key,
            headers: $b.headers,
            default_model: $b.default_model,
            azure_deployment: $b.azure_deployment,
            azure_api_version: $b.azure_api_version,
            connect_timeout_ms: $b.connect_timeout_ms,
            first_byte_timeout_ms: $b.first_byte_timeout_ms,
            idle_timeout_ms: $b.idle_timeout_ms,
            fallback: $b.fallback,
        }
    };
}

fn service_input(name: Option<String>, kind: Option<String>, f: ServiceFields) -> ServiceInput {
    ServiceInput {
        name,
        kind,
        base_url: f.base_url,
        api_key: f.api_key,
        headers: f.headers,
        default_model: f.default_model,
        azure_deployment: f.azure_deployment,
        azure_api_version: f.azure_api_version,
        connect_timeout_ms: f.connect_timeout_ms,
        first_byte_timeout_ms: f.first_byte_timeout_ms,
        idle_timeout_ms: f.idle_timeout_ms,
        fallback: f.fallback,
    }
}

#[utoipa::path(
    get,
    path = "/ai/services",
    tag = "ai",
    summary = "AI services (keys never returned)",
    responses((status = 200, description = "OK", body = Vec<ServiceDto>))
)]
pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(_p): Auth,
) -> ApiResult<Json<Vec<ServiceDto>>> {
    let (services, active) = s.ai.registry().list().await?;
    let mut out = Vec::with_capacity(services.len());
    for x in &services {
        out.push(shown(&s, x, active.as_deref()).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(
    post,
    path = "/ai/services",
    tag = "ai",
    summary = "Add an AI service (admins)",
    request_body = NewServiceBody,
    responses((status = 201, description = "Created", body = ServiceDto))
)]
pub(crate) async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<NewServiceBody>,
) -> ApiResult<(StatusCode, Json<ServiceDto>)> {
    can(&p, Action::Administer, Resource::Instance)?;
    let input = service_input(Some(b.name), Some(b.kind), service_fields!(b));
    let svc = s.ai.registry().save(&p.actor(), None, input).await?;
    s.ai.invalidate_models();
    let (_, active) = s.ai.registry().list().await?;
    Ok((
        StatusCode::CREATED,
        Json(shown(&s, &svc, active.as_deref()).await?),
    ))
}

#[utoipa::path(
    patch,
    path = "/ai/services/{id}",
    tag = "ai",
    summary = "Change an AI service (admins)",
    params(("id" = String, Path, description = "Service id or name")),
    request_body = ServiceBody,
    responses((status = 200, description = "OK", body = ServiceDto))
)]
pub(crate) async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<ServiceBody>,
) -> ApiResult<Json<ServiceDto>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let svc =
        s.ai.registry()
            .save(
                &p.actor(),
                Some(&id),
                service_input(b.name, b.kind, service_fields!(b)),
            )
            .await?;
    s.ai.invalidate_models();
    let (_, active) = s.ai.registry().list().await?;
    Ok(Json(shown(&s, &svc, active.as_deref()).await?))
}

#[utoipa::path(
    delete,
    path = "/ai/services/{id}",
    tag = "ai",
    summary = "Remove an AI service (admins)",
    params(("id" = String, Path, description = "Service id or name")),
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    can(&p, Action::Administer, Resource::Instance)?;
    s.ai.registry().delete(&p.actor(), &id).await?;
    s.ai.invalidate_models();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/ai/services/{id}/activate",
    tag = "ai",
    summary = "Make a service the default (admins)",
    params(("id" = String, Path, description = "Service id or name")),
    responses((status = 200, description = "OK", body = ServiceDto))
)]
pub(crate) async fn activate(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ServiceDto>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let svc = s.ai.registry().activate(&p.actor(), &id).await?;
    Ok(Json(shown(&s, &svc, Some(&svc.id)).await?))
}

#[utoipa::path(
    post,
    path = "/ai/services/{id}/test",
    tag = "ai",
    summary = "Test the connection for real (admins)",
    params(("id" = String, Path, description = "Service id or name")),
    responses((status = 200, description = "OK", body = aicockpit_ai::probe::ProbeResult))
)]
pub(crate) async fn test(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<aicockpit_ai::probe::ProbeResult>> {
    can(&p, Action::Administer, Resource::Instance)?;
    let svc = s.ai.registry().get(&id).await?;
    let result = aicockpit_ai::probe::probe(&s.ai, &svc).await;
    s.ai.registry()
        .record_test(&p.actor(), &svc.id, &result)
        .await?;
    Ok(Json(result))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AliasDto {
    model: String,
    service: String,
    target_model: Option<String>,
}

#[utoipa::path(
    get,
    path = "/ai/aliases",
    tag = "ai",
    summary = "Model aliases",
    responses((status = 200, description = "OK", body = Vec<AliasDto>))
)]
pub(crate) async fn aliases(
    State(s): State<AppState>,
    Auth(_p): Auth,
) -> ApiResult<Json<Vec<AliasDto>>> {
    let (services, _) = s.ai.registry().list().await?;
    let name = |id: &str| {
        services
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    Ok(Json(
        s.ai.registry()
            .aliases()
            .await?
            .into_iter()
            .map(|a| AliasDto {
                service: name(&a.service_id),
                model: a.model,
                target_model: a.target_model,
            })
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AliasBody {
    service: String,
    target_model: Option<String>,
}

#[utoipa::path(
    put,
    path = "/ai/aliases/{model}",
    tag = "ai",
    summary = "Route a model name to a service (admins)",
    params(("model" = String, Path, description = "The model name clients ask for")),
    request_body = AliasBody,
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn set_alias(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(model): ApiPath<String>,
    ApiJson(b): ApiJson<AliasBody>,
) -> ApiResult<StatusCode> {
    can(&p, Action::Administer, Resource::Instance)?;
    s.ai.registry()
        .set_alias(&p.actor(), &model, &b.service, b.target_model)
        .await?;
    s.ai.invalidate_models();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/ai/aliases/{model}",
    tag = "ai",
    summary = "Remove an alias (admins)",
    params(("model" = String, Path, description = "The model name clients ask for")),
    responses((status = 204, description = "Done"))
)]
pub(crate) async fn delete_alias(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiPath(model): ApiPath<String>,
) -> ApiResult<StatusCode> {
    can(&p, Action::Administer, Resource::Instance)?;
    s.ai.registry().delete_alias(&p.actor(), &model).await?;
    s.ai.invalidate_models();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsageQuery {
    /// Only since this many hours ago (default 24 * 30).
    hours: Option<i64>,
    /// Admins: everyone's usage.
    #[serde(default)]
    all: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UsageDto {
    /// Start of the time bucket (ms since the epoch); absent in totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<i64>,
    user_id: String,
    username: String,
    service: String,
    model: String,
    requests: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    total_tokens: i64,
}

#[utoipa::path(
    get,
    path = "/ai/usage",
    tag = "ai",
    summary = "Tokens and requests per user, service and model",
    params(UsageQuery),
    responses((status = 200, description = "OK", body = Vec<UsageDto>))
)]
pub(crate) async fn usage(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Json<Vec<UsageDto>>> {
    let (user, since) = usage_scope(&p, q.all, q.hours)?;
    let rows = s
        .store
        .ai_usage_totals(user.as_deref(), since)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(Json(usage_dtos(&s, rows, false).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesQuery {
    /// Only since this many hours ago (default 24 * 7).
    hours: Option<i64>,
    /// Admins: everyone's usage.
    #[serde(default)]
    all: bool,
    /// `hour` (default) or `day`.
    #[param(pattern = "^(hour|day)$")]
    bucket: Option<String>,
}

#[utoipa::path(
    get,
    path = "/ai/usage/series",
    tag = "ai",
    summary = "Usage per hour or day, user, service and model (for charts)",
    params(SeriesQuery),
    responses((status = 200, description = "OK", body = Vec<UsageDto>))
)]
pub(crate) async fn usage_series(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> ApiResult<Json<Vec<UsageDto>>> {
    let (user, since) = usage_scope(&p, q.all, q.hours.or(Some(24 * 7)))?;
    let bucket_ms = match q.bucket.as_deref() {
        None | Some("hour") => 3_600_000,
        Some("day") => 86_400_000,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "bucket must be hour or day",
            ))
        }
    };
    let rows = s
        .store
        .ai_usage_series(user.as_deref(), since, bucket_ms)
        .await
        .map_err(aicockpit_core::CoreError::from)?;
    Ok(Json(usage_dtos(&s, rows, true).await?))
}

/// Whose usage (None: everyone's, admins only) since when.
fn usage_scope(
    p: &aicockpit_core::auth::Principal,
    all: bool,
    hours: Option<i64>,
) -> ApiResult<(Option<String>, i64)> {
    if all {
        can(p, Action::Administer, Resource::Instance)?;
    }
    let hours = hours.unwrap_or(24 * 30);
    if !(1..=24 * 3650).contains(&hours) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "hours must be 1-87600",
        ));
    }
    let since = aicockpit_core::now_ms() - hours * 3_600_000;
    Ok(((!all).then(|| p.user_id.clone()), since))
}

/// Usage rows with service and user names in place of ids.
async fn usage_dtos(
    s: &AppState,
    rows: Vec<aicockpit_store::AiUsageTotal>,
    with_time: bool,
) -> ApiResult<Vec<UsageDto>> {
    let (services, _) = s.ai.registry().list().await?;
    let users = s.auth.list_users().await?;
    Ok(rows
        .into_iter()
        .map(|t| UsageDto {
            at: with_time.then_some(t.bucket),
            service: services
                .iter()
                .find(|x| x.id == t.service_id)
                .map(|x| x.name.clone())
                .unwrap_or(t.service_id),
            username: users
                .iter()
                .find(|u| u.id == t.user_id)
                .map(|u| u.username.clone())
                .unwrap_or_else(|| t.user_id.clone()),
            user_id: t.user_id,
            model: t.model,
            requests: t.requests,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            total_tokens: t.prompt_tokens + t.completion_tokens,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    /// The document's list of kinds is the registry's.
    #[test]
    fn documented_kinds_are_the_registrys() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(super::KindName::schema()).unwrap_or_default();
        let names = schema["enum"].as_array().cloned().unwrap_or_default();
        assert_eq!(names.len(), 6, "{schema}");
        for n in names {
            let n = n.as_str().unwrap_or_default();
            assert!(aicockpit_ai::kinds::Kind::parse(n).is_ok(), "{n}");
        }
    }
}
