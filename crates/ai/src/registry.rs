//! The service registry: services with their sealed secrets, model aliases
//! and the active service, cached in memory and written through to the store.

use crate::crypto::SecretBox;
use crate::kinds::Kind;
use crate::AiError;
use aicockpit_core::audit::{Audit, Entry};
use aicockpit_store::{AiAliasRecord, AiServiceRecord, Store, StoreError};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

const ACTIVE_KEY: &str = "ai.active_service";

/// A service ready to call: secrets in clear, in memory only.
#[derive(Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub base_url: String,
    pub api_key: Option<String>,
    pub headers: Vec<(String, String)>,
    pub header_names: Vec<String>,
    pub default_model: Option<String>,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub idle_timeout: Duration,
    pub fallback_id: Option<String>,
    pub updated_at: i64,
}

impl std::fmt::Debug for Service {
    // Never print the key or header values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("has_api_key", &self.api_key.is_some())
            .field("header_names", &self.header_names)
            .finish()
    }
}

/// What a caller may set when adding or editing a service. In an edit,
/// `None` keeps the current value; an empty `api_key` removes the key.
#[derive(Debug, Clone, Default)]
pub struct ServiceInput {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub default_model: Option<String>,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    pub connect_timeout_ms: Option<i64>,
    pub first_byte_timeout_ms: Option<i64>,
    pub idle_timeout_ms: Option<i64>,
    pub fallback: Option<String>,
}

#[derive(Clone, Default)]
struct Snapshot {
    services: Vec<Arc<Service>>,
    aliases: HashMap<String, (String, Option<String>)>,
    active: Option<String>,
}

pub struct Registry {
    store: Store,
    secrets: SecretBox,
    /// Shared, not copied, by every request that resolves a model.
    cache: RwLock<Option<Arc<Snapshot>>>,
    /// Every change of services and aliases is recorded here.
    audit: Arc<Audit>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

fn valid_header_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 128 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What a service row records: where requests (and keys) go, never keys.
fn service_detail(svc: &Service) -> serde_json::Value {
    json!({
        "service": svc.id, "name": svc.name, "base_url": svc.base_url,
        "has_api_key": svc.api_key.is_some(),
        "header_names": svc.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        "fallback": svc.fallback_id,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Registry {
    pub fn new(store: Store, secrets: SecretBox, audit: Arc<Audit>) -> Registry {
        Registry {
            store,
            secrets,
            cache: RwLock::new(None),
            audit,
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn audit(&self) -> &Audit {
        &self.audit
    }

    /// Puts a change on the audit record. `actor` is who made it.
    async fn record(&self, actor: &str, action: &str, detail: serde_json::Value) {
        self.audit
            .note(Entry::done(actor, None, action, detail))
            .await;
    }

    fn invalidate(&self) {
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    async fn snapshot(&self) -> Result<Arc<Snapshot>, AiError> {
        if let Some(s) = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            return Ok(s.clone());
        }
        let mut services = Vec::new();
        for r in self.store.ai_services().await? {
            services.push(Arc::new(self.open(r)?));
        }
        let aliases = self
            .store
            .ai_aliases()
            .await?
            .into_iter()
            .map(|a| (a.model, (a.service_id, a.target_model)))
            .collect();
        let active = self.store.setting(ACTIVE_KEY).await?;
        let snap = Arc::new(Snapshot {
            services,
            aliases,
            active,
        });
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = Some(snap.clone());
        Ok(snap)
    }

    fn open(&self, r: AiServiceRecord) -> Result<Service, AiError> {
        let api_key = r
            .api_key_enc
            .as_deref()
            .map(|s| self.secrets.open(s))
            .transpose()?;
        let headers: BTreeMap<String, String> = match r.headers_enc.as_deref() {
            Some(s) => serde_json::from_str(&self.secrets.open(s)?)
                .map_err(|e| AiError::Crypto(e.to_string()))?,
            None => BTreeMap::new(),
        };
        Ok(Service {
            id: r.id,
            name: r.name,
            kind: Kind::parse(&r.kind)?,
            base_url: r.base_url,
            api_key,
            headers: headers.into_iter().collect(),
            header_names: r.header_names,
            default_model: r.default_model,
            azure_deployment: r.azure_deployment,
            azure_api_version: r.azure_api_version,
            connect_timeout: Duration::from_millis(r.timeout_connect_ms as u64),
            first_byte_timeout: Duration::from_millis(r.timeout_first_byte_ms as u64),
            idle_timeout: Duration::from_millis(r.timeout_idle_ms as u64),
            fallback_id: r.fallback_id,
            updated_at: r.updated_at,
        })
    }

    pub async fn list(&self) -> Result<(Vec<Arc<Service>>, Option<String>), AiError> {
        let s = self.snapshot().await?;
        Ok((s.services.clone(), s.active.clone()))
    }

    pub async fn aliases(&self) -> Result<Vec<AiAliasRecord>, AiError> {
        Ok(self.store.ai_aliases().await?)
    }

    /// A service by id or name.
    pub async fn get(&self, id_or_name: &str) -> Result<Arc<Service>, AiError> {
        self.snapshot()
            .await?
            .services
            .iter()
            .find(|s| s.id == id_or_name || s.name == id_or_name)
            .cloned()
            .ok_or_else(|| AiError::NotFound(format!("no AI service {id_or_name:?}")))
    }

    /// Adds (`existing` None) or edits a service; on the record with where
    /// its requests (and key) go, never the key.
    pub async fn save(
        &self,
        actor: &str,
        existing: Option<&str>,
        input: ServiceInput,
    ) -> Result<Arc<Service>, AiError> {
        let svc = self.save_unrecorded(existing, input).await?;
        let action = match existing {
            Some(_) => "ai.service.update",
            None => "ai.service.create",
        };
        self.record(actor, action, service_detail(&svc)).await;
        Ok(svc)
    }

    /// Validates the input against the current record (if any), seals its
    /// secrets and writes the merged record: what the input leaves out is
    /// kept, an empty string clears.
    async fn save_unrecorded(
        &self,
        existing: Option<&str>,
        input: ServiceInput,
    ) -> Result<Arc<Service>, AiError> {
        let current = match existing {
            Some(id) => Some(self.record_of(id).await?),
            None => None,
        };
        let cur = current.as_ref();
        let (name, kind, base_url) = identity(&input, cur)?;
        check_azure(kind, &input, cur)?;
        let api_key_enc = self.sealed_key(input.api_key.as_deref(), cur)?;
        let (headers_enc, header_names) = self.sealed_headers(input.headers.as_ref(), cur)?;
        let fallback_id = self.fallback_of(input.fallback.as_deref(), cur).await?;
        let kept = |v: Option<String>, cur: Option<&String>| match v {
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s),
            None => cur.cloned(),
        };
        let now = now_ms();
        let rec = AiServiceRecord {
            id: cur
                .map(|c| c.id.clone())
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
            name,
            kind: kind.as_str().into(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key_enc,
            headers_enc,
            header_names,
            default_model: kept(
                input.default_model,
                cur.and_then(|c| c.default_model.as_ref()),
            ),
            azure_deployment: kept(
                input.azure_deployment,
                cur.and_then(|c| c.azure_deployment.as_ref()),
            ),
            azure_api_version: kept(
                input.azure_api_version,
                cur.and_then(|c| c.azure_api_version.as_ref()),
            ),
            timeout_connect_ms: timeout_ms(
                input.connect_timeout_ms,
                cur.map(|c| c.timeout_connect_ms),
                5_000,
                "connect timeout",
            )?,
            timeout_first_byte_ms: timeout_ms(
                input.first_byte_timeout_ms,
                cur.map(|c| c.timeout_first_byte_ms),
                60_000,
                "first-byte timeout",
            )?,
            timeout_idle_ms: timeout_ms(
                input.idle_timeout_ms,
                cur.map(|c| c.timeout_idle_ms),
                60_000,
                "idle timeout",
            )?,
            fallback_id,
            created_at: cur.map(|c| c.created_at).unwrap_or(now),
            updated_at: now,
        };
        self.store_record(&rec).await?;
        self.get(&rec.id).await
    }

    /// The stored record of a service, by id or name.
    async fn record_of(&self, id_or_name: &str) -> Result<AiServiceRecord, AiError> {
        self.store
            .ai_services()
            .await?
            .into_iter()
            .find(|s| s.id == id_or_name || s.name == id_or_name)
            .ok_or_else(|| AiError::NotFound(format!("no AI service {id_or_name:?}")))
    }

    /// The API key to store: sealed, kept, or cleared by an empty string.
    fn sealed_key(
        &self,
        key: Option<&str>,
        cur: Option<&AiServiceRecord>,
    ) -> Result<Option<String>, AiError> {
        match key {
            Some("") => Ok(None),
            Some(k) => {
                if k.len() > 4096 || k.contains(['\n', '\r', '\0']) {
                    return Err(AiError::invalid(
                        "invalid_api_key",
                        "the API key has invalid characters",
                    ));
                }
                Ok(Some(self.secrets.seal(k)?))
            }
            None => Ok(cur.and_then(|c| c.api_key_enc.clone())),
        }
    }

    /// Extra headers to store: sealed with their names in the clear (the
    /// names are shown, the values never), or kept.
    fn sealed_headers(
        &self,
        headers: Option<&BTreeMap<String, String>>,
        cur: Option<&AiServiceRecord>,
    ) -> Result<(Option<String>, Vec<String>), AiError> {
        let Some(h) = headers else {
            return Ok(cur
                .map(|c| (c.headers_enc.clone(), c.header_names.clone()))
                .unwrap_or((None, Vec::new())));
        };
        for (k, v) in h {
            if !valid_header_name(k) || v.contains(['\n', '\r', '\0']) || v.len() > 8192 {
                return Err(AiError::invalid(
                    "invalid_headers",
                    format!("header {k:?} is not valid"),
                ));
            }
        }
        let names = h.keys().cloned().collect();
        if h.is_empty() {
            return Ok((None, names));
        }
        let sealed = self
            .secrets
            .seal(&serde_json::to_string(h).unwrap_or_default())?;
        Ok((Some(sealed), names))
    }

    /// The fallback service's id: another existing service, kept, or
    /// cleared by an empty string.
    async fn fallback_of(
        &self,
        fallback: Option<&str>,
        cur: Option<&AiServiceRecord>,
    ) -> Result<Option<String>, AiError> {
        match fallback {
            Some("") => Ok(None),
            Some(f) => {
                let target = self.get(f).await?;
                if Some(&target.id) == cur.map(|c| &c.id) {
                    return Err(AiError::invalid(
                        "invalid_fallback",
                        "a service cannot fall back to itself",
                    ));
                }
                Ok(Some(target.id.clone()))
            }
            None => Ok(cur.and_then(|c| c.fallback_id.clone())),
        }
    }

    /// Writes the record; the first service becomes the active one.
    async fn store_record(&self, rec: &AiServiceRecord) -> Result<(), AiError> {
        match self.store.upsert_ai_service(rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(AiError::Conflict(format!(
                    "an AI service named {:?} already exists",
                    rec.name
                )))
            }
            Err(e) => return Err(e.into()),
        }
        if self.store.setting(ACTIVE_KEY).await?.is_none() {
            self.store.set_setting(ACTIVE_KEY, &rec.id).await?;
        }
        self.invalidate();
        Ok(())
    }

    pub async fn delete(&self, actor: &str, id_or_name: &str) -> Result<(), AiError> {
        let s = self.get(id_or_name).await?;
        self.store.delete_ai_service(&s.id).await?;
        if self.store.setting(ACTIVE_KEY).await?.as_deref() == Some(s.id.as_str()) {
            let next = self
                .store
                .ai_services()
                .await?
                .into_iter()
                .next()
                .map(|r| r.id)
                .unwrap_or_default();
            self.store.set_setting(ACTIVE_KEY, &next).await?;
        }
        self.invalidate();
        let detail = json!({"service": s.id, "name": s.name});
        self.record(actor, "ai.service.delete", detail).await;
        Ok(())
    }

    pub async fn activate(&self, actor: &str, id_or_name: &str) -> Result<Arc<Service>, AiError> {
        let s = self.get(id_or_name).await?;
        self.store.set_setting(ACTIVE_KEY, &s.id).await?;
        self.invalidate();
        let detail = json!({"service": s.id, "name": s.name});
        self.record(actor, "ai.service.activate", detail).await;
        Ok(s)
    }

    pub async fn set_alias(
        &self,
        actor: &str,
        model: &str,
        service: &str,
        target: Option<String>,
    ) -> Result<(), AiError> {
        if model.is_empty() || model.len() > 256 {
            return Err(AiError::invalid(
                "invalid_model",
                "model names are 1-256 characters",
            ));
        }
        let s = self.get(service).await?;
        let target = target.filter(|t| !t.is_empty());
        self.store
            .set_ai_alias(&AiAliasRecord {
                model: model.to_owned(),
                service_id: s.id.clone(),
                target_model: target.clone(),
            })
            .await?;
        self.invalidate();
        let detail = json!({"model": model, "service": s.id, "target_model": target});
        self.record(actor, "ai.alias.set", detail).await;
        Ok(())
    }

    pub async fn delete_alias(&self, actor: &str, model: &str) -> Result<(), AiError> {
        match self.store.delete_ai_alias(model).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(AiError::NotFound(format!("no alias {model:?}")))
            }
            Err(e) => return Err(e.into()),
        }
        self.invalidate();
        self.record(actor, "ai.alias.delete", json!({ "model": model }))
            .await;
        Ok(())
    }

    /// Which service serves `model`, and under which name: an alias, then
    /// `service-name/model`, then the active service.
    pub async fn resolve(&self, model: &str) -> Result<(Arc<Service>, String), AiError> {
        let snap = self.snapshot().await?;
        let by_id = |id: &str| snap.services.iter().find(|s| s.id == id).cloned();
        if let Some((sid, target)) = snap.aliases.get(model) {
            if let Some(s) = by_id(sid) {
                return Ok((s, target.clone().unwrap_or_else(|| model.to_owned())));
            }
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if let Some(s) = snap.services.iter().find(|s| s.name == prefix) {
                return Ok((s.clone(), rest.to_owned()));
            }
        }
        let active = snap
            .active
            .as_deref()
            .and_then(by_id)
            .or_else(|| snap.services.first().cloned())
            .ok_or_else(|| {
                AiError::NoService("no AI service is configured; an admin can add one".into())
            })?;
        let model = if model.is_empty() || model == "default" {
            active.default_model.clone().ok_or_else(|| {
                AiError::invalid(
                    "model_required",
                    "no model given and the service has no default model",
                )
            })?
        } else {
            model.to_owned()
        };
        Ok((active, model))
    }

    /// The fallback chain after `s` (without cycles).
    pub async fn fallbacks(&self, s: &Service) -> Result<Vec<Arc<Service>>, AiError> {
        let snap = self.snapshot().await?;
        let mut out: Vec<Arc<Service>> = Vec::new();
        let mut next = s.fallback_id.clone();
        while let Some(id) = next {
            if id == s.id || out.iter().any(|x| x.id == id) || out.len() >= 3 {
                break;
            }
            match snap.services.iter().find(|x| x.id == id) {
                Some(f) => {
                    next = f.fallback_id.clone();
                    out.push(f.clone());
                }
                None => break,
            }
        }
        Ok(out)
    }
}

/// The service's name, kind and base URL, from the input or the current
/// record (a local kind has a default URL).
fn identity(
    input: &ServiceInput,
    cur: Option<&AiServiceRecord>,
) -> Result<(String, Kind, String), AiError> {
    let name = input
        .name
        .clone()
        .or_else(|| cur.map(|c| c.name.clone()))
        .ok_or_else(|| AiError::invalid("invalid_name", "a service needs a name"))?;
    if !valid_name(&name) {
        return Err(AiError::invalid(
            "invalid_name",
            "service names are 1-64 lowercase letters, digits, '-', '_' or '.'",
        ));
    }
    let kind = match (input.kind.as_deref(), cur) {
        (Some(k), _) => Kind::parse(k)?,
        (None, Some(c)) => Kind::parse(&c.kind)?,
        (None, None) => return Err(AiError::invalid("invalid_kind", "a service needs a kind")),
    };
    let base_url = input
        .base_url
        .clone()
        .or_else(|| cur.map(|c| c.base_url.clone()))
        .or_else(|| kind.default_base_url().map(str::to_owned))
        .ok_or_else(|| {
            AiError::invalid("invalid_base_url", "this kind of service needs a base_url")
        })?;
    let parsed = reqwest::Url::parse(&base_url)
        .map_err(|e| AiError::invalid("invalid_base_url", format!("base_url is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AiError::invalid(
            "invalid_base_url",
            "base_url must be an http(s) URL with a host",
        ));
    }
    Ok((name, kind, base_url))
}

/// Classic Azure URLs (with an API version) name a deployment; the
/// /openai/v1 API needs neither.
fn check_azure(
    kind: Kind,
    input: &ServiceInput,
    cur: Option<&AiServiceRecord>,
) -> Result<(), AiError> {
    if kind != Kind::AzureOpenAi {
        return Ok(());
    }
    let has_dep = input
        .azure_deployment
        .as_ref()
        .or(cur.and_then(|c| c.azure_deployment.as_ref()));
    let has_ver = input
        .azure_api_version
        .as_ref()
        .or(cur.and_then(|c| c.azure_api_version.as_ref()));
    if has_ver.is_some_and(|v| !v.is_empty()) && has_dep.is_none_or(|d| d.is_empty()) {
        return Err(AiError::invalid(
            "invalid_azure",
            "classic Azure URLs (with azure_api_version) need azure_deployment; leave both out for the /openai/v1 API",
        ));
    }
    Ok(())
}

/// A timeout in ms from the input, the current record or the default,
/// within 100 ms – 1 h.
fn timeout_ms(v: Option<i64>, cur: Option<i64>, default: i64, what: &str) -> Result<i64, AiError> {
    let x = v.or(cur).unwrap_or(default);
    if !(100..=3_600_000).contains(&x) {
        return Err(AiError::invalid(
            "invalid_timeout",
            format!("{what} must be 100-3600000 ms"),
        ));
    }
    Ok(x)
}
