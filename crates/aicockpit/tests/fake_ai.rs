//! A scripted OpenAI-compatible upstream for exact behaviour and faults. The
//! model name in a request picks the script, so tests can share one server.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Seen {
    /// Per model: how many requests arrived.
    pub counts: Mutex<HashMap<String, u32>>,
    /// The last request: path with query, headers, body.
    pub last: Mutex<Option<(String, HeaderMap, Value)>>,
    /// Set when a streamed answer's body was dropped before its end (the
    /// gateway hung up).
    pub stream_dropped: AtomicBool,
    /// Released by the test to let the "gated" stream continue.
    pub gate: Notify,
    /// Answers (assistant messages) for model "script", in order.
    pub script: Mutex<std::collections::VecDeque<Value>>,
    /// Answered when the script has run out (None: a plain "done").
    pub script_repeat: Mutex<Option<Value>>,
    /// Every request body the "script" model received.
    pub script_requests: Mutex<Vec<Value>>,
    /// Set when a request reached the target of the "redirect" model's
    /// redirect (the gateway followed it, credentials and all).
    pub followed_redirect: AtomicBool,
}

pub struct FakeAi {
    pub url: String,
    pub seen: Arc<Seen>,
}

fn chunk(content: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":content},"finish_reason":null}]})
    )
}

struct DropFlag(Arc<Seen>, bool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1 {
            self.0.stream_dropped.store(true, Ordering::SeqCst);
        }
    }
}

async fn handle(State(seen): State<Arc<Seen>>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers = req.headers().clone();
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let model = body["model"].as_str().unwrap_or("").to_owned();
    let n = {
        let mut c = seen.counts.lock().unwrap_or_else(|p| p.into_inner());
        let e = c.entry(model.clone()).or_insert(0);
        *e += 1;
        *e
    };
    *seen.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((path, headers, body.clone()));
    let stream = body["stream"].as_bool() == Some(true);
    let ok_json = || {
        (
            [("content-type", "application/json")],
            json!({"id":"x","object":"chat.completion","model":model,
                   "choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],
                   "usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}})
            .to_string(),
        )
            .into_response()
    };
    let sse = |parts: Vec<(u64, String)>, seen: Arc<Seen>, gated: bool, end: bool| {
        let s = futures_util::stream::unfold(
            (parts.into_iter(), DropFlag(seen, false), gated),
            move |(mut it, mut flag, gated)| async move {
                match it.next() {
                    Some((delay, text)) => {
                        if delay == u64::MAX && gated {
                            flag.0.gate.notified().await;
                        } else if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        Some((
                            Ok::<_, std::io::Error>(Bytes::from(text)),
                            (it, flag, gated),
                        ))
                    }
                    None => {
                        if end {
                            flag.1 = true;
                        } else {
                            // Hang: keep the connection open without sending.
                            tokio::time::sleep(Duration::from_secs(600)).await;
                        }
                        drop(flag);
                        None
                    }
                }
            },
        );
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(s))
            .unwrap_or_default()
    };
    let usage = format!(
        "data: {}\n\n",
        json!({"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}})
    );
    if model == "script" {
        seen.script_requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(body.clone());
        let next = seen
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let msg = next
            .or_else(|| {
                seen.script_repeat
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
            })
            .unwrap_or_else(|| json!({"role": "assistant", "content": "done"}));
        let finish = if msg.get("tool_calls").is_some() {
            "tool_calls"
        } else {
            "stop"
        };
        return (
            [("content-type", "application/json")],
            json!({"id": "s", "object": "chat.completion", "model": "script",
                   "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                   "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
            .to_string(),
        )
            .into_response();
    }
    match model.as_str() {
        "redirect" => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", "/redirected")],
            "elsewhere",
        )
            .into_response(),
        "echo" => (
            [("content-type", "application/json")],
            json!({"choices":[{"index":0,"message":{"role":"assistant","content":"echo"}}],"received":body}).to_string(),
        )
            .into_response(),
        "fail-twice" if n <= 2 => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "always-500" => (StatusCode::INTERNAL_SERVER_ERROR, "always broken").into_response(),
        "limited-once" if n == 1 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response(),
        "limited-long" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "120")], "slow down").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            ok_json()
        }
        "bad" => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            json!({"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens","code":null}})
                .to_string(),
        )
            .into_response(),
        "unauthorized" => (StatusCode::UNAUTHORIZED, "no").into_response(),
        _ if !stream => ok_json(),
        "quirky" => {
            let filter0 = format!("data: {}\n\n", json!({"id":"","choices":[],"prompt_filter_results":[{"prompt_index":0}]}));
            let role = format!("data: {}\n\n", json!({"choices":[{"index":0,"delta":{"role":"assistant"}}]}));
            let cf = format!(
                "data: {}\n\n",
                json!({"choices":[{"index":0,"delta":{},"finish_reason":null,"content_filter_results":{"hate":{"filtered":false}}}]})
            );
            let hel = chunk("Hel");
            // "lo" split in the middle of its line and of the `data:` tag.
            let lo = chunk("lo");
            let (a, b) = lo.split_at(7);
            sse(
                vec![
                    (0, filter0),
                    (0, role),
                    (0, hel),
                    // Wait for the test to have read "Hel": a buffering
                    // gateway would never let it.
                    (u64::MAX, a.to_owned()),
                    (20, b.to_owned()),
                    (0, cf),
                    (0, "data: {not json at all\n\n".into()),
                    (0, usage),
                    (0, "data: [DONE]\n\n".into()),
                ],
                seen.clone(),
                true,
                true,
            )
        }
        "cut" => sse(vec![(0, chunk("par")), (10, chunk("tial"))], seen.clone(), false, true),
        "hang" => sse(vec![(0, chunk("wait"))], seen.clone(), false, false),
        _ => sse(vec![(0, chunk("Hel")), (0, chunk("lo")), (0, usage), (0, "data: [DONE]\n\n".into())], seen.clone(), false, true),
    }
}

async fn models(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> Response {
    *seen.last.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(("/models".into(), headers, Value::Null));
    axum::Json(json!({"object":"list","data":[{"id":"fake-small","object":"model"},{"id":"fake-large","object":"model"}]}))
        .into_response()
}

async fn redirected(State(seen): State<Arc<Seen>>) -> Response {
    seen.followed_redirect.store(true, Ordering::SeqCst);
    (StatusCode::OK, "{}").into_response()
}

pub async fn start() -> FakeAi {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(handle))
        .route("/v1/completions", post(handle))
        .route("/v1/embeddings", post(handle))
        .route("/openai/v1/chat/completions", post(handle))
        .route("/openai/deployments/{dep}/chat/completions", post(handle))
        .route("/redirected", post(redirected))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeAi { url, seen }
}

/// Reads an SSE response into its `data:` payloads.
pub async fn sse_events(resp: reqwest::Response) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut s = resp.bytes_stream();
    while let Some(Ok(chunk)) = s.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let ev: String = buf.drain(..i + 2).collect();
            for line in ev.lines() {
                if let Some(d) = line.strip_prefix("data: ") {
                    out.push(d.to_owned());
                }
            }
        }
    }
    out
}
