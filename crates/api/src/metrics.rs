//! Prometheus metrics: HTTP requests and latency per route, workspaces by
//! state. One registry per server (no global recorder), so several servers
//! in one test process do not mix their numbers.

use crate::AppState;
use aicockpit_core::workspaces::WorkspaceState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AiLabels {
    service: String,
    model: String,
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AiServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AiErrorLabels {
    service: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AiTokenLabels {
    service: String,
    model: String,
    kind: String,
}

type AiHistogram = Family<AiServiceLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    workspaces: Family<StateLabels, Gauge>,
    ai_requests: Family<AiLabels, Counter>,
    ai_errors: Family<AiErrorLabels, Counter>,
    ai_latency: AiHistogram,
    ai_ttft: AiHistogram,
    ai_overhead: AiHistogram,
    ai_tokens: Family<AiTokenLabels, Counter>,
    /// Model names used as labels so far: a user picks the model string,
    /// so the number of series it can create is bounded.
    models_seen: std::sync::Mutex<std::collections::HashSet<String>>,
    audit_head: Gauge,
    audit_head_hash: Family<HashLabels, Gauge>,
    pool_ready: Family<PoolLabels, Gauge>,
    pool_wanted: Family<PoolLabels, Gauge>,
    /// Totals kept by the pool itself, copied at each scrape.
    pool_claims: Family<PoolClaimLabels, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    template: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolClaimLabels {
    template: String,
    /// `hit` (served from the pool) or `miss`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HashLabels {
    hash: String,
}

/// Distinct model labels; later models count as "other".
const MAX_MODEL_LABELS: usize = 100;

fn overhead_histogram() -> Histogram {
    // 10 µs … ~80 ms: the gateway's own work per request.
    Histogram::new(exponential_buckets(0.00001, 2.0, 14))
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s: API calls range from a token check to a container start.
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let workspaces = Family::<StateLabels, Gauge>::default();
        registry.register(
            "aicockpit_http_requests",
            "HTTP requests handled",
            requests.clone(),
        );
        registry.register(
            "aicockpit_http_request_duration_seconds",
            "Time to answer HTTP requests",
            latency.clone(),
        );
        registry.register(
            "aicockpit_workspaces",
            "Workspaces by state",
            workspaces.clone(),
        );
        let ai_requests = Family::<AiLabels, Counter>::default();
        let ai_errors = Family::<AiErrorLabels, Counter>::default();
        let ai_latency: AiHistogram = Family::new_with_constructor(latency_histogram);
        let ai_ttft: AiHistogram = Family::new_with_constructor(latency_histogram);
        let ai_overhead: AiHistogram = Family::new_with_constructor(overhead_histogram);
        let ai_tokens = Family::<AiTokenLabels, Counter>::default();
        let audit_head = Gauge::default();
        let audit_head_hash = Family::<HashLabels, Gauge>::default();
        let pool_ready = Family::<PoolLabels, Gauge>::default();
        let pool_wanted = Family::<PoolLabels, Gauge>::default();
        let pool_claims = Family::<PoolClaimLabels, Gauge>::default();
        registry.register(
            "aicockpit_pool_ready",
            "Warm pool workspaces ready to be claimed, per template",
            pool_ready.clone(),
        );
        registry.register(
            "aicockpit_pool_wanted",
            "Warm pool size configured, per template",
            pool_wanted.clone(),
        );
        registry.register(
            "aicockpit_pool_claims",
            "Creates of a pooled template since the start, served from the pool (hit) or not (miss)",
            pool_claims.clone(),
        );
        registry.register(
            "aicockpit_audit_head_seq",
            "The last row of the audit chain",
            audit_head.clone(),
        );
        registry.register(
            "aicockpit_audit_head",
            "The audit chain head's hash (label)",
            audit_head_hash.clone(),
        );
        registry.register(
            "aicockpit_ai_requests",
            "Gateway requests by service, model and status",
            ai_requests.clone(),
        );
        registry.register(
            "aicockpit_ai_errors",
            "Gateway failures by service and kind",
            ai_errors.clone(),
        );
        registry.register(
            "aicockpit_ai_request_duration_seconds",
            "Gateway request duration",
            ai_latency.clone(),
        );
        registry.register(
            "aicockpit_ai_time_to_first_token_seconds",
            "Time to the first streamed token",
            ai_ttft.clone(),
        );
        registry.register(
            "aicockpit_ai_overhead_seconds",
            "Time the gateway itself adds per request",
            ai_overhead.clone(),
        );
        registry.register(
            "aicockpit_ai_tokens",
            "Tokens by service, model and kind",
            ai_tokens.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            workspaces,
            ai_requests,
            ai_errors,
            ai_latency,
            ai_ttft,
            ai_overhead,
            ai_tokens,
            models_seen: Default::default(),
            audit_head,
            audit_head_hash,
            pool_ready,
            pool_wanted,
            pool_claims,
        }
    }

    fn model_label(&self, model: &str) -> String {
        let mut seen = self.models_seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(model) {
            return model.to_owned();
        }
        if seen.len() < MAX_MODEL_LABELS && model.len() <= 128 {
            seen.insert(model.to_owned());
            return model.to_owned();
        }
        "other".to_owned()
    }

    /// Records one gateway request.
    pub fn record_ai(&self, o: &aicockpit_ai::gateway::Outcome) {
        let svc = AiServiceLabels {
            service: o.service.clone(),
        };
        let model = self.model_label(&o.model);
        self.ai_requests
            .get_or_create(&AiLabels {
                service: o.service.clone(),
                model: model.clone(),
                endpoint: o.endpoint.to_owned(),
                status: o.status,
            })
            .inc();
        for kind in o
            .error_kind
            .map(|k| k.as_str())
            .into_iter()
            .chain(o.client_cancelled.then_some("client_cancelled"))
        {
            self.ai_errors
                .get_or_create(&AiErrorLabels {
                    service: o.service.clone(),
                    kind: kind.to_owned(),
                })
                .inc();
        }
        self.ai_latency
            .get_or_create(&svc)
            .observe(o.duration.as_secs_f64());
        self.ai_overhead
            .get_or_create(&svc)
            .observe(o.overhead.as_secs_f64());
        if let Some(t) = o.time_to_first_token {
            self.ai_ttft.get_or_create(&svc).observe(t.as_secs_f64());
        }
        if let Some(u) = o.usage {
            for (kind, n) in [
                ("prompt", u.prompt_tokens),
                ("completion", u.completion_tokens),
            ] {
                self.ai_tokens
                    .get_or_create(&AiTokenLabels {
                        service: o.service.clone(),
                        model: model.clone(),
                        kind: kind.into(),
                    })
                    .inc_by(n);
            }
        }
    }

    /// The Prometheus text exposition, with workspace counts refreshed.
    /// The published audit chain head, as a gauge (seq) and an info
    /// series carrying its hash.
    pub fn set_audit_head(&self, head: Option<(i64, String)>) {
        if let Some((seq, hash)) = head {
            self.audit_head.set(seq);
            self.audit_head_hash.clear();
            self.audit_head_hash
                .get_or_create(&HashLabels { hash })
                .set(1);
        }
    }

    pub fn render(
        &self,
        by_state: &[(String, i64)],
        pool: &[aicockpit_core::workspaces::PoolStats],
    ) -> String {
        for p in pool {
            let t = PoolLabels {
                template: p.template.clone(),
            };
            self.pool_ready.get_or_create(&t).set(i64::from(p.ready));
            self.pool_wanted.get_or_create(&t).set(i64::from(p.wanted));
            for (outcome, n) in [("hit", p.hits), ("miss", p.misses)] {
                let l = PoolClaimLabels {
                    template: p.template.clone(),
                    outcome: outcome.into(),
                };
                self.pool_claims
                    .get_or_create(&l)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        for st in WorkspaceState::ALL {
            let n = by_state
                .iter()
                .find(|(s, _)| s == st.as_str())
                .map(|(_, n)| *n)
                .unwrap_or(0);
            self.workspaces
                .get_or_create(&StateLabels {
                    state: st.as_str().into(),
                })
                .set(n);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Middleware recording each routed request.
/// When a request reached the server, before routing, authentication and
/// reading the body: what the gateway's overhead is measured from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrived(pub(crate) Instant);

pub(crate) async fn track(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    req.extensions_mut().insert(Arrived(start));
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let m = &state.metrics;
    m.requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status: resp.status().as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { method, route })
        .observe(start.elapsed().as_secs_f64());
    resp
}
