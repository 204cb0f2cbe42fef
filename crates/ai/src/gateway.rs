//! The OpenAI-compatible gateway: one request in, routed to a service,
//! retried and failed over while nothing has been sent to the client yet,
//! streamed back event by event, accounted for.

use crate::failure::FailureKind;
use crate::filter::{judge, Usage, Verdict};
use crate::kinds::{self, Endpoint};
use crate::ratelimit::RateLimiter;
use crate::registry::{Registry, Service};
use crate::retry;
use crate::sse::SseParser;
use crate::AiError;
use aicockpit_store::{AiUsageRecord, Store};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// Limits and retry policy.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Requests per minute per user (0: unlimited).
    pub rpm: u64,
    /// Tokens per minute per user (0: unlimited).
    pub tpm: u64,
    /// Retries per service before falling back (connect errors, timeouts,
    /// 5xx, 429).
    pub max_retries: u32,
    /// A 429's Retry-After up to this long is waited out; longer ones fall
    /// back or are reported with the wait.
    pub max_retry_wait: Duration,
    /// Largest non-streamed answer accepted from a service.
    pub max_response_bytes: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            rpm: 600,
            tpm: 2_000_000,
            max_retries: 2,
            max_retry_wait: Duration::from_secs(5),
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What happened to one request, for metrics and logs.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub service: String,
    pub model: String,
    pub endpoint: &'static str,
    pub status: u16,
    pub stream: bool,
    pub usage: Option<Usage>,
    pub duration: Duration,
    pub time_to_first_token: Option<Duration>,
    pub overhead: Duration,
    pub error_kind: Option<FailureKind>,
    pub client_cancelled: bool,
}

pub type Observer = Arc<dyn Fn(&Outcome) + Send + Sync>;

pub enum ReplyBody {
    Full(Bytes),
    Stream(BoxStream<'static, Result<Bytes, std::io::Error>>),
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: ReplyBody,
}

pub struct Gateway {
    registry: Arc<Registry>,
    store: Store,
    cfg: GatewayConfig,
    limiter: Arc<RateLimiter>,
    observer: Observer,
    clients: Mutex<HashMap<String, (i64, reqwest::Client)>>,
    models_cache: Mutex<Option<(Instant, Value)>>,
    /// Usage writes in flight hold a read lock; `drain` takes the write
    /// lock, so shutdown waits for them.
    writes: Arc<tokio::sync::RwLock<()>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds from a Retry-After header (delta-seconds form; dates count as 1).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    Some(
        v.trim()
            .parse::<f64>()
            .map(|s| s.ceil() as u64)
            .unwrap_or(1),
    )
}

/// A client's request as the gateway forwards it.
struct ClientRequest {
    body: Value,
    /// The model the client asked for (an alias, `service/model`, or empty).
    model: String,
    stream: bool,
    /// Whether the client itself asked for the usage chunk (else we ask for
    /// it to account tokens, and drop it before the client sees it).
    wants_usage: bool,
}

impl ClientRequest {
    fn parse(ep: Endpoint, body: &[u8]) -> Result<ClientRequest, AiError> {
        let mut body: Value = serde_json::from_slice(body).map_err(|e| {
            AiError::invalid("invalid_json", format!("the body is not valid JSON: {e}"))
        })?;
        let Some(obj) = body.as_object_mut() else {
            return Err(AiError::invalid(
                "invalid_request",
                "the body must be a JSON object",
            ));
        };
        let model = obj
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let stream = ep.can_stream() && obj.get("stream").and_then(Value::as_bool) == Some(true);
        let wants_usage = obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            == Some(true);
        if stream && !wants_usage {
            let so = obj.entry("stream_options").or_insert_with(|| json!({}));
            if let Some(so) = so.as_object_mut() {
                so.insert("include_usage".into(), Value::Bool(true));
            }
        }
        Ok(ClientRequest {
            body,
            model,
            stream,
            wants_usage,
        })
    }

    /// The body to send, naming the model this service is asked for.
    fn for_model(&mut self, model: &str) -> Bytes {
        if let Some(o) = self.body.as_object_mut() {
            o.insert("model".into(), Value::String(model.to_owned()));
        }
        Bytes::from(serde_json::to_vec(&self.body).unwrap_or_default())
    }
}

/// The attempts of one request so far.
struct Attempts<'a> {
    user_id: &'a str,
    ep: Endpoint,
    arrived: Instant,
    /// Time spent before the first attempt (our overhead).
    pre: Duration,
    count: u32,
    waited_429: bool,
    primary: &'a Service,
}

/// Records usage and reports the outcome exactly once.
struct Recorder {
    store: Store,
    writes: Arc<tokio::sync::RwLock<()>>,
    limiter: Arc<RateLimiter>,
    observer: Observer,
    user_id: String,
    service_id: String,
    outcome: Outcome,
    started: Instant,
}

impl Recorder {
    fn finish(mut self) {
        self.outcome.duration = self.started.elapsed();
        (self.observer)(&self.outcome);
        // A service that answers without counting tokens (some local
        // servers never send a usage chunk) still served a request: it is
        // counted, with the tokens unknown (0).
        let answered = (200..300).contains(&self.outcome.status);
        let u = match self.outcome.usage {
            Some(u) => u,
            None if answered => Usage::default(),
            None => return,
        };
        self.limiter.add_tokens(&self.user_id, u.total());
        let rec = AiUsageRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            user_id: self.user_id,
            service_id: self.service_id,
            model: self.outcome.model,
            endpoint: self.outcome.endpoint.to_owned(),
            prompt_tokens: u.prompt_tokens as i64,
            completion_tokens: u.completion_tokens as i64,
            created_at: now_ms(),
        };
        let store = self.store;
        // Taken now, not in the task: a drain that starts later still waits.
        let guard = self.writes.clone().try_read_owned().ok();
        tokio::spawn(async move {
            if let Err(e) = store.insert_ai_usage(&rec).await {
                warn!(error = %e, "could not record AI usage");
            }
            drop(guard);
        });
    }
}

impl Gateway {
    pub fn new(
        registry: Arc<Registry>,
        store: Store,
        cfg: GatewayConfig,
        observer: Observer,
    ) -> Gateway {
        Gateway {
            registry,
            store,
            cfg,
            limiter: Arc::new(RateLimiter::default()),
            observer,
            clients: Mutex::new(HashMap::new()),
            models_cache: Mutex::new(None),
            writes: Arc::new(tokio::sync::RwLock::new(())),
        }
    }

    /// Waits (at most 10 s) until every usage row in flight is written:
    /// called at shutdown, before the store closes.
    pub async fn drain(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.writes.write()).await;
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    fn client(&self, svc: &Service) -> reqwest::Client {
        let mut m = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((v, c)) = m.get(&svc.id) {
            if *v == svc.updated_at {
                return c.clone();
            }
        }
        let c = reqwest::Client::builder()
            // A redirect would carry the service's key to wherever the
            // upstream points; an upstream that redirects gets an error.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(svc.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .unwrap_or_default();
        m.insert(svc.id.clone(), (svc.updated_at, c.clone()));
        c
    }

    /// A request to `svc` with its authentication and extra headers.
    pub fn request(
        &self,
        svc: &Service,
        method: reqwest::Method,
        url: &str,
    ) -> reqwest::RequestBuilder {
        let mut r = self.client(svc).request(method, url);
        if let Some(k) = &svc.api_key {
            let (name, value) = kinds::auth_header(svc.kind, k);
            r = r.header(name, value);
        }
        for (k, v) in &svc.headers {
            r = r.header(k.as_str(), v.as_str());
        }
        r
    }

    /// Handles one `/v1/...` request. `arrived` is when it reached the server.
    pub async fn handle(
        &self,
        user_id: &str,
        ep: Endpoint,
        body: &[u8],
        arrived: Instant,
    ) -> Result<Reply, AiError> {
        if let Err(wait) = self.limiter.admit(user_id, self.cfg.rpm, self.cfg.tpm) {
            return Err(AiError::RateLimited {
                retry_after_secs: wait,
                message: format!("rate limit reached for your account; retry in {wait} s"),
            });
        }
        let mut req = ClientRequest::parse(ep, body)?;
        let candidates = self.candidates(&req.model).await?;
        let (primary, model) = (candidates[0].0.clone(), candidates[0].1.clone());
        let mut run = Attempts {
            user_id,
            ep,
            arrived,
            pre: arrived.elapsed(),
            count: 0,
            waited_429: false,
            primary: &primary,
        };
        let policy = retry::Policy {
            max_retries: self.cfg.max_retries,
            max_retry_wait: self.cfg.max_retry_wait,
        };
        let mut last_err: Option<AiError> = None;
        for (ci, (svc, model)) in candidates.iter().enumerate() {
            let payload = req.for_model(model);
            let url = kinds::url(
                svc.kind,
                &svc.base_url,
                ep,
                svc.azure_deployment.as_deref(),
                svc.azure_api_version.as_deref(),
                model,
            );
            for attempt in 0..=self.cfg.max_retries {
                run.count += 1;
                let (result, outcome) = self.attempt(svc, &url, payload.clone()).await;
                match (retry::decide(result, attempt, policy), outcome) {
                    (retry::Next::Deliver, Ok(resp)) => {
                        return self.deliver(resp, svc, model, ci > 0, &req, &run).await;
                    }
                    (next, outcome) => {
                        let err = match outcome {
                            Ok(resp) => self.upstream_error(resp, svc).await,
                            Err(e) => e,
                        };
                        match next {
                            retry::Next::Retry(wait) => {
                                run.waited_429 |= matches!(wait, retry::Wait::Exactly(_));
                                last_err = Some(err);
                                tokio::time::sleep(retry::delay(wait)).await;
                            }
                            retry::Next::Fallback | retry::Next::Deliver => {
                                last_err = Some(err);
                                break;
                            }
                            retry::Next::Fail => {
                                self.report_failure(svc, model, &req, &run, &err);
                                return Err(err);
                            }
                        }
                    }
                }
            }
        }
        let err = last_err
            .unwrap_or_else(|| AiError::NoService("no AI service could take the request".into()));
        self.report_failure(&primary, &model, &req, &run, &err);
        Err(err)
    }

    /// The service the request's model routes to, then its fallbacks, each
    /// with the model to ask it for.
    async fn candidates(&self, asked_model: &str) -> Result<Vec<(Arc<Service>, String)>, AiError> {
        let (primary, model) = self.registry.resolve(asked_model).await?;
        let mut candidates = vec![(primary.clone(), model.clone())];
        for f in self.registry.fallbacks(&primary).await? {
            let m = f.default_model.clone().unwrap_or_else(|| model.clone());
            candidates.push((f, m));
        }
        Ok(candidates)
    }

    /// One try at one service: the response if the service answered with
    /// any status, else the error; and what the policy needs to know.
    async fn attempt(
        &self,
        svc: &Service,
        url: &str,
        payload: Bytes,
    ) -> (retry::Attempt, Result<reqwest::Response, AiError>) {
        let sent = self
            .request(svc, reqwest::Method::POST, url)
            .header("content-type", "application/json")
            .body(payload)
            .send();
        match tokio::time::timeout(svc.first_byte_timeout, sent).await {
            Ok(Ok(resp)) => {
                let result = if resp.status().is_success() {
                    retry::Attempt::Answered
                } else {
                    retry::Attempt::Status {
                        code: resp.status().as_u16(),
                        retry_after: retry_after(resp.headers()),
                    }
                };
                (result, Ok(resp))
            }
            Ok(Err(e)) => {
                let kind = crate::probe::classify(&e);
                debug!(service = %svc.name, %kind, error = %e, "AI service unreachable");
                let err = AiError::Unavailable {
                    kind,
                    message: format!("the AI service {} is unreachable ({kind})", svc.name),
                    service: svc.name.clone(),
                };
                (retry::Attempt::Unreachable, Err(err))
            }
            Err(_) => {
                let err = AiError::Unavailable {
                    kind: FailureKind::Timeout,
                    message: format!(
                        "the AI service {} did not answer within {} ms",
                        svc.name,
                        svc.first_byte_timeout.as_millis()
                    ),
                    service: svc.name.clone(),
                };
                (retry::Attempt::TimedOut, Err(err))
            }
        }
    }

    /// The error a non-2xx answer stands for.
    async fn upstream_error(&self, resp: reqwest::Response, svc: &Service) -> AiError {
        let status = resp.status().as_u16();
        if status == 429 {
            let wait = retry_after(resp.headers()).unwrap_or(1);
            return AiError::RateLimited {
                retry_after_secs: wait,
                message: format!(
                    "the AI service {} is rate limiting (Retry-After: {wait} s)",
                    svc.name
                ),
            };
        }
        AiError::Upstream {
            status,
            body: self.read_error_body(resp).await,
            service: svc.name.clone(),
        }
    }

    /// Sends a successful answer on to the client, streamed or whole, with
    /// the headers that say how it was obtained.
    async fn deliver(
        &self,
        resp: reqwest::Response,
        svc: &Service,
        model: &str,
        fell_back: bool,
        req: &ClientRequest,
        run: &Attempts<'_>,
    ) -> Result<Reply, AiError> {
        let mut headers = vec![
            ("x-aicockpit-service", svc.name.clone()),
            ("x-aicockpit-model", model.to_owned()),
            ("x-aicockpit-attempts", run.count.to_string()),
        ];
        if fell_back {
            headers.push((
                "x-aicockpit-fallback",
                format!("{} (after {})", svc.name, run.primary.name),
            ));
        }
        if run.waited_429 {
            headers.push(("x-aicockpit-retried-after", "429".into()));
        }
        let recorder = Recorder {
            store: self.store.clone(),
            writes: self.writes.clone(),
            limiter: self.limiter.clone(),
            observer: self.observer.clone(),
            user_id: run.user_id.to_owned(),
            service_id: svc.id.clone(),
            outcome: Outcome {
                service: svc.name.clone(),
                model: model.to_owned(),
                endpoint: run.ep.path(),
                status: resp.status().as_u16(),
                stream: req.stream,
                usage: None,
                duration: Duration::ZERO,
                time_to_first_token: None,
                overhead: Duration::ZERO,
                error_kind: None,
                client_cancelled: false,
            },
            started: run.arrived,
        };
        if req.stream {
            Ok(self.stream_reply(resp, svc, req.wants_usage, run.pre, headers, recorder))
        } else {
            self.full_reply(resp, svc, run.pre, headers, recorder).await
        }
    }

    fn report_failure(
        &self,
        svc: &Service,
        model: &str,
        req: &ClientRequest,
        run: &Attempts<'_>,
        err: &AiError,
    ) {
        let (status, kind) = match err {
            AiError::Upstream { status, .. } => (*status, FailureKind::UpstreamError),
            AiError::Unavailable { kind, .. } => (502, *kind),
            AiError::RateLimited { .. } => (429, FailureKind::RateLimited),
            _ => (500, FailureKind::Error),
        };
        (self.observer)(&Outcome {
            service: svc.name.clone(),
            model: model.to_owned(),
            endpoint: run.ep.path(),
            status,
            stream: req.stream,
            usage: None,
            duration: run.arrived.elapsed(),
            time_to_first_token: None,
            overhead: run.pre,
            error_kind: Some(kind),
            client_cancelled: false,
        });
    }

    async fn read_error_body(&self, resp: reqwest::Response) -> Bytes {
        match tokio::time::timeout(Duration::from_secs(10), resp.bytes()).await {
            Ok(Ok(b)) => b.slice(..b.len().min(64 * 1024)),
            _ => Bytes::new(),
        }
    }

    async fn full_reply(
        &self,
        resp: reqwest::Response,
        svc: &Service,
        pre: Duration,
        mut headers: Vec<(&'static str, String)>,
        mut rec: Recorder,
    ) -> Result<Reply, AiError> {
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        loop {
            match tokio::time::timeout(svc.idle_timeout, stream.next()).await {
                Ok(Some(Ok(chunk))) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > self.cfg.max_response_bytes {
                        return Err(AiError::TooLarge(
                            "the AI service's answer exceeds the size limit".into(),
                        ));
                    }
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(AiError::Unavailable {
                        kind: FailureKind::Disconnected,
                        message: format!("the AI service {} broke off its answer: {e}", svc.name),
                        service: svc.name.clone(),
                    })
                }
                Err(_) => {
                    return Err(AiError::Unavailable {
                        kind: FailureKind::Timeout,
                        message: format!("the AI service {} stalled while answering", svc.name),
                        service: svc.name.clone(),
                    })
                }
            }
        }
        let read_at = Instant::now();
        let body = Bytes::from(body);
        rec.outcome.usage = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| Usage::from_json(&v));
        // Our own work: before the upstream request, and after its answer
        // was read (reading it is the upstream's time, not ours).
        let overhead = pre + read_at.elapsed();
        rec.outcome.overhead = overhead;
        headers.push((
            "x-aicockpit-overhead-ms",
            format!("{:.3}", overhead.as_secs_f64() * 1000.0),
        ));
        rec.finish();
        Ok(Reply {
            status,
            headers,
            body: ReplyBody::Full(body),
        })
    }

    fn stream_reply(
        &self,
        resp: reqwest::Response,
        svc: &Service,
        wants_usage: bool,
        pre: Duration,
        mut headers: Vec<(&'static str, String)>,
        mut rec: Recorder,
    ) -> Reply {
        rec.outcome.overhead = pre;
        headers.push((
            "x-aicockpit-overhead-ms",
            format!("{:.3}", pre.as_secs_f64() * 1000.0),
        ));
        let state = StreamState {
            upstream: resp.bytes_stream().boxed(),
            parser: SseParser::default(),
            out: VecDeque::new(),
            idle: svc.idle_timeout,
            finished: false,
            saw_done: false,
            wants_usage,
            first_content: None,
            rec: Some(rec),
        };
        let stream = futures_util::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(b) = st.out.pop_front() {
                    return Some((Ok(b), st));
                }
                if st.finished {
                    st.complete(false);
                    return None;
                }
                st.pull().await;
            }
        });
        Reply {
            status: 200,
            headers,
            body: ReplyBody::Stream(stream.boxed()),
        }
    }

    /// The merged model list of every service (cached for 30 s).
    pub async fn models(&self) -> Result<Value, AiError> {
        if let Some((at, v)) = self
            .models_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if at.elapsed() < Duration::from_secs(30) {
                return Ok(v.clone());
            }
        }
        let (services, _) = self.registry.list().await?;
        let mut seen = std::collections::HashSet::new();
        let mut data = Vec::new();
        for a in self.registry.aliases().await? {
            if seen.insert(a.model.clone()) {
                data.push(json!({"id": a.model, "object": "model", "created": 0, "owned_by": "aicockpit-alias"}));
            }
        }
        let lookups = services.iter().map(|svc| async move {
            let url = kinds::url(
                svc.kind,
                &svc.base_url,
                Endpoint::Models,
                svc.azure_deployment.as_deref(),
                svc.azure_api_version.as_deref(),
                "",
            );
            let r = self
                .request(svc, reqwest::Method::GET, &url)
                .timeout(Duration::from_secs(3))
                .send()
                .await;
            let ids: Vec<String> = match r {
                Ok(resp) if resp.status().is_success() => resp
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|v| v["data"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect(),
                _ => svc.default_model.clone().into_iter().collect(),
            };
            (svc.name.clone(), ids)
        });
        for (name, ids) in futures_util::future::join_all(lookups).await {
            for id in ids {
                if seen.insert(id.clone()) {
                    data.push(json!({"id": id, "object": "model", "created": 0, "owned_by": name}));
                }
            }
        }
        let v = json!({"object": "list", "data": data});
        *self.models_cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), v.clone()));
        Ok(v)
    }

    pub fn invalidate_models(&self) {
        *self.models_cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

struct StreamState {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    parser: SseParser,
    out: VecDeque<Bytes>,
    idle: Duration,
    finished: bool,
    saw_done: bool,
    wants_usage: bool,
    first_content: Option<Instant>,
    rec: Option<Recorder>,
}

fn error_event(code: FailureKind, message: &str) -> Bytes {
    let v = json!({"error": {"message": message, "type": "upstream_error", "code": code}});
    Bytes::from(format!("data: {v}\n\n"))
}

impl StreamState {
    async fn pull(&mut self) {
        match tokio::time::timeout(self.idle, self.upstream.next()).await {
            Err(_) => self.fail(
                FailureKind::IdleTimeout,
                "the AI service stopped sending (idle timeout)",
            ),
            Ok(None) => {
                if let Some(ev) = self.parser.finish() {
                    self.take(ev);
                }
                if !self.saw_done {
                    self.fail(
                        FailureKind::UpstreamDisconnected,
                        "the AI service ended the stream early",
                    );
                }
                self.finished = true;
            }
            Ok(Some(Err(e))) => {
                warn!(error = %e, "AI stream broke off");
                self.fail(
                    FailureKind::UpstreamDisconnected,
                    "the AI service broke off the stream",
                );
            }
            Ok(Some(Ok(chunk))) => {
                self.parser.push(&chunk);
                while let Some(ev) = self.parser.next_event() {
                    self.take(ev);
                    if self.finished {
                        return;
                    }
                }
                if self.parser.overflowed() {
                    self.fail(
                        FailureKind::InvalidStream,
                        "the AI service sent an event too large to be valid",
                    );
                }
            }
        }
    }

    fn take(&mut self, ev: crate::sse::SseEvent) {
        let (verdict, seen) = judge(&ev.data, self.wants_usage);
        if let Some(rec) = &mut self.rec {
            if seen.usage.is_some() {
                rec.outcome.usage = seen.usage;
            }
            if seen.content && self.first_content.is_none() {
                let now = Instant::now();
                self.first_content = Some(now);
                rec.outcome.time_to_first_token = Some(now.duration_since(rec.started));
            }
            if seen.error {
                rec.outcome.error_kind = Some(FailureKind::UpstreamErrorInStream);
            }
        }
        match verdict {
            Verdict::Forward => self.out.push_back(Bytes::from(ev.encode())),
            Verdict::Done => {
                self.saw_done = true;
                self.out.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                self.finished = true;
            }
            Verdict::Drop(why) => debug!(why, "stream event not forwarded"),
        }
    }

    fn fail(&mut self, code: FailureKind, message: &str) {
        self.out.push_back(error_event(code, message));
        if let Some(rec) = &mut self.rec {
            rec.outcome.error_kind = Some(code);
        }
        self.finished = true;
    }

    fn complete(&mut self, cancelled: bool) {
        if let Some(mut rec) = self.rec.take() {
            rec.outcome.client_cancelled = cancelled;
            rec.finish();
        }
    }
}

impl Drop for StreamState {
    fn drop(&mut self) {
        // Dropped before the end: the client went away. Dropping `upstream`
        // closes the connection to the service, which cancels generation.
        self.complete(true);
    }
}
