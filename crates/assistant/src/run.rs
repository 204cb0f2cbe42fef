//! The agent: a task given in words runs as a loop of OpenAI tool calls
//! against the workspace — list, read, search, write, edit, delete files and
//! run commands — until the model answers without tools, the step limit is
//! reached, or the user stops it. Every call is judged by the workspace's
//! policy first: allowed calls run, "ask" calls wait for the user's
//! approval, denied calls never reach the container. Everything is audited.

use crate::audit::{Audit, Entry};
use crate::guard::{self, Tool, MAX_TOOL_ARGUMENTS};
use crate::policy::{Decision, Policy};
use aicockpit_ai::gateway::{Gateway, ReplyBody};
use aicockpit_ai::kinds::Endpoint;
use aicockpit_core::access::{can, Action, Resource};
use aicockpit_core::auth::Principal;
use aicockpit_core::files::{WorkspaceFiles, WriteMode};
use aicockpit_core::workspace_agent::AgentConn;
use aicockpit_core::workspaces::activity::Work;
use aicockpit_core::workspaces::{ExecParams, WorkspaceManager};
use aicockpit_core::CoreError;
use aicockpit_store::Store;
use aicockpit_workspace_agent_proto::EntryKind;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot, watch};

/// Most output a tool returns to the model.
const MAX_TOOL_OUTPUT: usize = 16 * 1024;
/// The largest file `read_file`/`edit_file` take in (the model sees at
/// most [`MAX_TOOL_OUTPUT`] of it).
const MAX_TOOL_READ: u64 = 4 * 1024 * 1024;
/// The most directory entries `list_files` gathers before it refuses.
const MAX_TOOL_ENTRIES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Store(#[from] aicockpit_store::StoreError),
    #[error("nobody answered the approval request in time")]
    ApprovalExpired,
}

/// Limits of agent runs (configurable as `[ai]` keys).
#[derive(Debug, Clone)]
pub struct RunLimits {
    /// The largest file a run may change (its prior state is kept in
    /// memory and the store for undo); larger ones are refused.
    pub checkpoint_max_bytes: usize,
    /// How long an "ask" waits for an answer before the run ends.
    pub approval_timeout: Duration,
    /// How long a finished run stays readable in memory.
    pub keep_finished: Duration,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            checkpoint_max_bytes: 8 * 1024 * 1024,
            approval_timeout: Duration::from_secs(900),
            keep_finished: Duration::from_secs(1800),
        }
    }
}

/// The user's answer to an "ask".
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct Approval {
    pub approve: bool,
    /// Also allow this exact command from now on (stored in the policy).
    #[serde(default)]
    pub remember: bool,
}

/// Why a run ended (the `end` event's and the `agent.end` row's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The model answered without asking for a tool.
    Done,
    /// `max_steps` model turns were used up.
    StepLimit,
    /// The user stopped it.
    Stopped,
    /// Nobody answered an approval request in time.
    ApprovalExpired,
    /// The model could not be asked, or answered nonsense.
    Error,
}

/// One agent run.
pub struct Run {
    pub id: String,
    pub workspace_id: String,
    pub user: Principal,
    events: Mutex<Vec<Value>>,
    live: broadcast::Sender<Value>,
    pending: Mutex<HashMap<String, oneshot::Sender<(Approval, String)>>>,
    stop: watch::Sender<bool>,
    finished: Mutex<bool>,
    /// When the run ended (for pruning).
    ended: Mutex<Option<Instant>>,
    /// Paths whose pre-run state is already checkpointed.
    checkpointed: Mutex<std::collections::HashSet<String>>,
}

impl Run {
    /// The run's user acting through the AI: the user's rights, with audit
    /// rows naming the run.
    fn acting(&self) -> Principal {
        self.user.in_run(&self.id)
    }

    fn emit(&self, mut ev: Value) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = ev.as_object_mut() {
            o.insert("seq".into(), json!(events.len()));
        }
        events.push(ev.clone());
        let _ = self.live.send(ev);
    }

    /// Everything so far, and a receiver for what follows (no gap).
    pub fn subscribe(&self) -> (Vec<Value>, broadcast::Receiver<Value>, bool) {
        let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        (
            events.clone(),
            self.live.subscribe(),
            *self.finished.lock().unwrap_or_else(|p| p.into_inner()),
        )
    }
}

pub struct Runs {
    runs: Mutex<HashMap<String, Arc<Run>>>,
    actions: Mutex<HashMap<String, Vec<Instant>>>,
    max_actions_per_minute: usize,
    limits: RunLimits,
    gateway: Arc<Gateway>,
    workspaces: Arc<WorkspaceManager>,
    files: Arc<WorkspaceFiles>,
    audit: Arc<Audit>,
    store: Store,
}

fn tools() -> Value {
    let f = |name: &str, desc: &str, props: Value, required: &[&str]| {
        json!({"type": "function", "function": {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required}}})
    };
    json!([
        f(
            "list_files",
            "List a directory of the workspace.",
            json!({"path": {"type": "string"}}),
            &["path"]
        ),
        f(
            "read_file",
            "Read a text file.",
            json!({"path": {"type": "string"}}),
            &["path"]
        ),
        f(
            "search",
            "Search the workspace's files for text.",
            json!({"query": {"type": "string"}}),
            &["query"]
        ),
        f(
            "write_file",
            "Create or replace a file.",
            json!({"path": {"type": "string"}, "content": {"type": "string"}}),
            &["path", "content"]
        ),
        f(
            "edit_file",
            "Replace one exact occurrence of old_text with new_text in a file.",
            json!({"path": {"type": "string"}, "old_text": {"type": "string"}, "new_text": {"type": "string"}}),
            &["path", "old_text", "new_text"]
        ),
        f(
            "delete_file",
            "Delete a file.",
            json!({"path": {"type": "string"}}),
            &["path"]
        ),
        f(
            "run_command",
            "Run a shell command in /workspace and return its exit code and output.",
            json!({"command": {"type": "string"}, "timeout_secs": {"type": "integer"}}),
            &["command"]
        ),
    ])
}

const SYSTEM: &str = "You are AiCockpit's coding agent working inside a containerized workspace at /workspace. \
Use the tools to inspect and change files and run commands. Keep changes minimal and explain what you did.";

const DEFAULT_POLICY_KEY: &str = "policy.default";

fn policy_key(ws: &str) -> String {
    format!("policy.{ws}")
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_TOOL_OUTPUT {
        return s.to_owned();
    }
    let mut cut = MAX_TOOL_OUTPUT;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n[… {} more bytes]", &s[..cut], s.len() - cut)
}

/// A tool call's arguments as recorded: contents the model wrote or
/// replaced stand as their SHA-256 and size, never as text.
fn tool_detail(tool: &str, args: &Value) -> Value {
    let mut d = args.clone();
    if let (Some(o), "write_file" | "edit_file") = (d.as_object_mut(), tool) {
        for k in ["content", "old_text", "new_text"] {
            if let Some(text) = o.get(k).and_then(Value::as_str) {
                let digest = aicockpit_core::audit::digest(text.as_bytes());
                o.insert(k.to_owned(), digest);
            }
        }
    }
    d
}

impl Runs {
    pub fn new(
        gateway: Arc<Gateway>,
        workspaces: Arc<WorkspaceManager>,
        files: Arc<WorkspaceFiles>,
        audit: Arc<Audit>,
        store: Store,
    ) -> Runs {
        Runs {
            runs: Mutex::new(HashMap::new()),
            actions: Mutex::new(HashMap::new()),
            max_actions_per_minute: 120,
            limits: RunLimits::default(),
            gateway,
            workspaces,
            files,
            audit,
            store,
        }
    }

    /// Replaces the default limits.
    pub fn with_limits(mut self, limits: RunLimits) -> Runs {
        self.limits = limits;
        self
    }

    /// The workspace's policy, else the installation's default (set by
    /// admins), else the built-in one.
    pub async fn policy(&self, ws_id: &str) -> Result<Policy, RunError> {
        for key in [policy_key(ws_id), DEFAULT_POLICY_KEY.to_owned()] {
            if let Some(s) = self.store.setting(&key).await? {
                if let Ok(p) = serde_json::from_str(&s) {
                    return Ok(p);
                }
            }
        }
        Ok(Policy::default())
    }

    pub async fn default_policy(&self) -> Result<Policy, RunError> {
        Ok(match self.store.setting(DEFAULT_POLICY_KEY).await? {
            Some(s) => serde_json::from_str(&s).unwrap_or_default(),
            None => Policy::default(),
        })
    }

    /// Sets the policy new workspaces start with (admins only).
    pub async fn set_default_policy(
        &self,
        p: &Principal,
        policy: &Policy,
    ) -> Result<Policy, RunError> {
        can(p, Action::Administer, Resource::Instance)?;
        self.store
            .set_setting(
                DEFAULT_POLICY_KEY,
                &serde_json::to_string(policy).unwrap_or_default(),
            )
            .await?;
        self.audit
            .record(Entry {
                actor: p.user_id.clone(),
                workspace_id: None,
                action: "policy.default.update".into(),
                detail: serde_json::to_value(policy).unwrap_or_default(),
                ..Default::default()
            })
            .await?;
        Ok(policy.clone())
    }

    pub async fn set_policy(
        &self,
        p: &Principal,
        ws: &str,
        policy: &Policy,
    ) -> Result<Policy, RunError> {
        let ws_id = self.workspaces.id_of(p, ws, Action::Change).await?;
        self.store
            .set_setting(
                &policy_key(&ws_id),
                &serde_json::to_string(policy).unwrap_or_default(),
            )
            .await?;
        self.audit
            .record(Entry {
                actor: p.user_id.clone(),
                workspace_id: Some(ws_id.clone()),
                action: "policy.update".into(),
                detail: serde_json::to_value(policy).unwrap_or_default(),
                ..Default::default()
            })
            .await?;
        Ok(policy.clone())
    }

    /// A run the caller may do `action` on (others' runs are not found).
    pub fn run(&self, id: &str, p: &Principal, action: Action) -> Result<Arc<Run>, RunError> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let run = runs
            .get(id)
            .ok_or_else(|| RunError::NotFound(format!("no agent run {id:?}")))?;
        let resource = Resource::Run {
            id,
            owner_id: &run.user.user_id,
        };
        can(p, action, resource).map_err(|e| match e {
            CoreError::NotFound(_) => RunError::NotFound(format!("no agent run {id:?}")),
            e => e.into(),
        })?;
        Ok(run.clone())
    }

    /// Starts a run in the background; returns at once.
    pub async fn start(
        self: &Arc<Self>,
        p: &Principal,
        ws: &str,
        task: String,
        model: Option<String>,
        max_steps: Option<u32>,
    ) -> Result<Arc<Run>, RunError> {
        if task.trim().is_empty() || task.len() > 100_000 {
            return Err(RunError::Invalid("the task must be 1-100000 bytes".into()));
        }
        let max_steps = max_steps.unwrap_or(20);
        if !(1..=200).contains(&max_steps) {
            return Err(RunError::Invalid("max_steps must be 1-200".into()));
        }
        // Checks access and that the workspace runs, before anything starts.
        self.workspaces.agent(p, ws, Action::Change).await?;
        let ws_id = self.workspaces.id_of(p, ws, Action::Change).await?;
        let (live, _) = broadcast::channel(1024);
        let (stop, _) = watch::channel(false);
        let run = Arc::new(Run {
            id: format!("run_{}", uuid::Uuid::new_v4().simple()),
            workspace_id: ws_id.clone(),
            user: p.clone(),
            events: Mutex::new(Vec::new()),
            live,
            pending: Mutex::new(HashMap::new()),
            stop,
            finished: Mutex::new(false),
            ended: Mutex::new(None),
            checkpointed: Mutex::new(std::collections::HashSet::new()),
        });
        {
            let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
            // Finished runs are kept a while for their events, then dropped.
            let keep = self.limits.keep_finished;
            runs.retain(|_, r| {
                r.ended
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_none_or(|t| t.elapsed() < keep)
            });
            runs.insert(run.id.clone(), run.clone());
        }
        self.audit
            .record(Entry {
                actor: p.user_id.clone(),
                workspace_id: Some(ws_id.clone()),
                action: "agent.start".into(),
                detail: json!({"run": run.id, "task": task, "model": model, "max_steps": max_steps}),
                ..Default::default()
            })
            .await?;
        let me = self.clone();
        let r = run.clone();
        tokio::spawn(async move {
            // A run in progress (also while it waits for an approval) is
            // work: the workspace is not idle until it ends.
            let _busy = me
                .workspaces
                .activity()
                .hold(&r.workspace_id, Work::AgentRun);
            let outcome = me.drive(&r, task, model, max_steps).await;
            let (kind, detail) = match outcome {
                Ok(k) => (k, Value::Null),
                Err(RunError::ApprovalExpired) => (EndReason::ApprovalExpired, Value::Null),
                Err(e) => (EndReason::Error, json!(e.to_string())),
            };
            r.emit(json!({"type": "end", "reason": kind, "error": detail}));
            *r.finished.lock().unwrap_or_else(|p| p.into_inner()) = true;
            *r.ended.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            let _ = me
                .audit
                .record(Entry {
                    actor: format!("agent:{}", r.id),
                    workspace_id: Some(r.workspace_id.clone()),
                    action: "agent.end".into(),
                    detail: json!({"reason": kind, "error": detail}),
                    ..Default::default()
                })
                .await;
        });
        Ok(run)
    }

    pub fn stop(&self, run: &Run) {
        let _ = run.stop.send(true);
    }

    pub fn approve(
        &self,
        run: &Run,
        call_id: &str,
        a: Approval,
        by: &Principal,
    ) -> Result<(), RunError> {
        let tx = run
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(call_id)
            .ok_or_else(|| {
                RunError::NotFound(format!("no action {call_id:?} waits for approval"))
            })?;
        let _ = tx.send((a, by.username.clone()));
        Ok(())
    }

    async fn drive(
        &self,
        run: &Arc<Run>,
        task: String,
        model: Option<String>,
        max_steps: u32,
    ) -> Result<EndReason, RunError> {
        let mut stop = run.stop.subscribe();
        let mut messages = vec![
            json!({"role": "system", "content": SYSTEM}),
            json!({"role": "user", "content": task}),
        ];
        for step in 1..=max_steps {
            if *stop.borrow() {
                return Ok(EndReason::Stopped);
            }
            let body = json!({"model": model.clone().unwrap_or_default(), "messages": messages, "tools": tools(), "tool_choice": "auto"});
            let body = body.to_string();
            let call = self.gateway.handle(
                &run.user.user_id,
                Endpoint::Chat,
                body.as_bytes(),
                Instant::now(),
            );
            let reply = tokio::select! {
                r = call => r.map_err(|e| RunError::Invalid(format!("the model could not be asked: {e}")))?,
                _ = stop.changed() => return Ok(EndReason::Stopped),
            };
            let ReplyBody::Full(bytes) = reply.body else {
                return Err(RunError::Invalid(
                    "the model streamed an answer unasked".into(),
                ));
            };
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| RunError::Invalid(format!("the model's answer is not JSON: {e}")))?;
            let msg = v["choices"][0]["message"].clone();
            let calls = msg["tool_calls"].as_array().cloned().unwrap_or_default();
            run.emit(json!({"type": "assistant", "step": step, "content": msg["content"]}));
            messages.push(msg);
            if calls.is_empty() {
                return Ok(EndReason::Done);
            }
            for c in calls {
                let id = c["id"].as_str().unwrap_or("").to_owned();
                let tool = c["function"]["name"].as_str().unwrap_or("").to_owned();
                let raw = c["function"]["arguments"].as_str().unwrap_or("{}");
                if raw.len() > MAX_TOOL_ARGUMENTS {
                    // Refused before parsing: the model's output is bounded.
                    let out = format!(
                        "refused: the arguments are larger than {MAX_TOOL_ARGUMENTS} bytes"
                    );
                    run.emit(json!({"type": "tool_result", "id": id, "ok": false, "output": out}));
                    messages.push(json!({"role": "tool", "tool_call_id": id, "content": out}));
                    continue;
                }
                let args: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
                let result = tokio::select! {
                    r = self.one_call(run, &id, &tool, &args) => r?,
                    _ = stop.changed() => {
                        run.emit(json!({"type": "tool_result", "id": id, "ok": false, "output": "stopped by the user"}));
                        return Ok(EndReason::Stopped);
                    }
                };
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": result}));
            }
        }
        Ok(EndReason::StepLimit)
    }

    /// Judges, asks if needed, runs and audits one tool call; returns what
    /// the model is told.
    async fn one_call(
        &self,
        run: &Arc<Run>,
        id: &str,
        name: &str,
        args: &Value,
    ) -> Result<String, RunError> {
        let mut policy = self.policy(&run.workspace_id).await?;
        let conn = self.conn(run).await.ok();
        let verdict = guard::judge(&policy, name, args, conn.as_deref()).await;
        let decision = verdict.decision.as_str();
        run.emit(json!({"type": "tool_call", "id": id, "tool": name, "args": args, "decision": decision, "reason": verdict.reason}));
        let call = Call {
            run,
            id,
            name,
            args,
            actor: format!("agent:{}", run.id),
            recorded: tool_detail(name, args),
        };
        // The judge denies names that are no tool, so a parsed tool is
        // known from here on.
        let (tool, approved_by) = match (verdict.decision, Tool::parse(name)) {
            (Decision::Deny, _) | (_, None) => return self.refuse(&call, &verdict.reason).await,
            (Decision::Ask, Some(tool)) => {
                match self.ask(&call, tool, &verdict.reason, &mut policy).await? {
                    Asked::Approved(by) => (tool, Some(by)),
                    Asked::Refused(out) => return Ok(out),
                }
            }
            (Decision::Allow, Some(tool)) => (tool, None),
        };
        if let Some(out) = self.not_ready(&call, tool).await {
            run.emit(json!({"type": "tool_result", "id": id, "ok": false, "output": out}));
            return Ok(out);
        }
        self.run_recorded(&call, tool, approved_by, &policy).await
    }

    /// A denied call: on the record, and the model is told why.
    async fn refuse(&self, call: &Call<'_>, reason: &str) -> Result<String, RunError> {
        let row = ToolRow::new(call, "deny", None, reason.to_owned());
        self.audit_tool(call.run, row).await?;
        let out = format!("denied by the workspace policy ({reason})");
        call.run
            .emit(json!({"type": "tool_result", "id": call.id, "ok": false, "output": out}));
        Ok(out)
    }

    /// Asks the user and waits (bounded) for the answer; a remembered
    /// command is added to the workspace's policy.
    async fn ask(
        &self,
        call: &Call<'_>,
        tool: Tool,
        reason: &str,
        policy: &mut Policy,
    ) -> Result<Asked, RunError> {
        let (run, id) = (call.run, call.id);
        let (tx, rx) = oneshot::channel();
        run.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), tx);
        run.emit(json!({"type": "approval_needed", "id": id, "tool": call.name, "args": call.args, "reason": reason}));
        let answer = tokio::time::timeout(self.limits.approval_timeout, rx).await;
        let Ok(answer) = answer else {
            run.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
            run.emit(json!({"type": "approval_expired", "id": id}));
            let row = ToolRow::new(call, "expired", None, "not run: nobody answered".into());
            self.audit_tool(run, row).await?;
            return Err(RunError::ApprovalExpired);
        };
        let Ok((answer, by)) = answer else {
            return Ok(Asked::Refused("the approval request was dropped".into()));
        };
        if !answer.approve {
            let row = ToolRow::new(call, "rejected", Some(by), "not run".into());
            self.audit_tool(run, row).await?;
            let out = "the user rejected this action".to_owned();
            run.emit(json!({"type": "tool_result", "id": id, "ok": false, "output": out}));
            return Ok(Asked::Refused(out));
        }
        if answer.remember && tool == Tool::RunCommand {
            self.remember_command(call, &by, policy).await?;
        }
        Ok(Asked::Approved(by))
    }

    /// "Always allow this command": stored in the workspace's policy, on
    /// the record under the name of who approved it.
    async fn remember_command(
        &self,
        call: &Call<'_>,
        by: &str,
        policy: &mut Policy,
    ) -> Result<(), RunError> {
        let run = call.run;
        let Some(cmd) = call.args["command"]
            .as_str()
            .filter(|c| policy.remember_command(c))
        else {
            return Ok(());
        };
        self.audit
            .record(Entry {
                actor: by.to_owned(),
                workspace_id: Some(run.workspace_id.clone()),
                action: "policy.remember".into(),
                detail: json!({"command": cmd, "run": run.id}),
                result: Some("ok".into()),
                ..Default::default()
            })
            .await?;
        self.store
            .set_setting(
                &policy_key(&run.workspace_id),
                &serde_json::to_string(&policy).unwrap_or_default(),
            )
            .await?;
        Ok(())
    }

    /// Why an allowed call cannot run now (rate limit, no checkpoint for
    /// undo), or None.
    async fn not_ready(&self, call: &Call<'_>, tool: Tool) -> Option<String> {
        if let Err(e) = self.rate_check(&call.run.user.user_id) {
            return Some(e.to_string());
        }
        if tool.writes() {
            let path = call.args["path"].as_str().unwrap_or("");
            if let Err(e) = self.checkpoint(call.run, path).await {
                return Some(format!(
                    "not run: the file could not be checkpointed for undo ({e})"
                ));
            }
        }
        None
    }

    /// Runs the call between a "started" row (no row, no run) and a row
    /// with its outcome.
    async fn run_recorded(
        &self,
        call: &Call<'_>,
        tool: Tool,
        approved_by: Option<String>,
        policy: &Policy,
    ) -> Result<String, RunError> {
        // What runs without an approval runs inside the kernel sandbox;
        // what a person approved runs as approved (they saw the exact call).
        let sandbox = (tool == Tool::RunCommand && approved_by.is_none())
            .then(|| guard::sandbox_spec(policy));
        let decision = if approved_by.is_some() {
            "approved"
        } else {
            "allow"
        };
        let mut started = ToolRow::new(call, decision, approved_by, "started".into());
        if let (Some(d), Tool::RunCommand) = (started.detail.as_object_mut(), tool) {
            d.insert("sandboxed".into(), json!(sandbox.is_some()));
        }
        let finished_detail = started.detail.clone();
        let finished_by = started.approved_by.clone();
        self.audit_tool(call.run, started).await?;
        let (ok, output) = match self
            .execute(call.run, tool, call.args, sandbox, policy)
            .await
        {
            Ok(s) => (true, s),
            Err(e) => (false, format!("error: {e}")),
        };
        let output = truncate(&output);
        let summary = format!(
            "{}: {}",
            if ok { "ok" } else { "failed" },
            output.chars().take(200).collect::<String>()
        );
        let finished = ToolRow {
            actor: call.actor.clone(),
            tool: call.name.to_owned(),
            detail: finished_detail,
            decision,
            approved_by: finished_by,
            result: summary,
        };
        self.audit_tool(call.run, finished).await?;
        call.run
            .emit(json!({"type": "tool_result", "id": call.id, "ok": ok, "output": output}));
        Ok(output)
    }

    /// One agent tool call on the audit record.
    async fn audit_tool(&self, run: &Run, row: ToolRow) -> Result<(), RunError> {
        self.audit
            .record(Entry {
                actor: row.actor,
                workspace_id: Some(run.workspace_id.clone()),
                action: format!("agent.tool.{}", row.tool),
                detail: row.detail,
                decision: Some(row.decision.to_owned()),
                approved_by: row.approved_by,
                result: Some(row.result),
            })
            .await?;
        Ok(())
    }

    fn rate_check(&self, user: &str) -> Result<(), RunError> {
        let now = Instant::now();
        let mut m = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        let q = m.entry(user.to_owned()).or_default();
        q.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if q.len() >= self.max_actions_per_minute {
            return Err(RunError::Invalid(format!(
                "rate limit: at most {} agent actions per minute",
                self.max_actions_per_minute
            )));
        }
        q.push(now);
        Ok(())
    }

    /// Keeps the file's current state (once per run and path) so that the
    /// run can be undone.
    async fn checkpoint(&self, run: &Run, path: &str) -> Result<(), CoreError> {
        use base64::Engine as _;
        let norm = crate::policy::normalize(path).unwrap_or_else(|| path.to_owned());
        // Only the state before the run's first change counts: later changes
        // to the same file need no second read.
        if run
            .checkpointed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&norm)
        {
            return Ok(());
        }
        let max = self.limits.checkpoint_max_bytes;
        let content = match self.files.read(&run.acting(), &run.workspace_id, path, max as u64).await {
            Err(CoreError::TooLarge(_)) => {
                return Err(CoreError::TooLarge(format!(
                    "{path} is larger than {max} bytes, the most a run may change (ai.checkpoint_max_bytes)"
                )))
            }
            Ok((bytes, _)) => Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            Err(CoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        self.store
            .insert_checkpoint(&run.id, &norm, content.as_deref(), now)
            .await?;
        run.checkpointed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(norm);
        Ok(())
    }

    /// Puts back every file the run changed, as it was before the run.
    pub async fn undo(&self, run: &Run, by: &Principal) -> Result<Vec<String>, RunError> {
        use base64::Engine as _;
        let resource = Resource::Run {
            id: &run.id,
            owner_id: &run.user.user_id,
        };
        can(by, Action::Change, resource)?;
        let ws = &run.workspace_id;
        let mut restored = Vec::new();
        for (path, content) in self.store.checkpoints(&run.id).await? {
            match content {
                Some(b64) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|e| RunError::Invalid(format!("a checkpoint is corrupt: {e}")))?;
                    let mode = WriteMode::default();
                    self.files.write(by, ws, &path, mode, &bytes).await?;
                }
                None => match self.files.delete(by, ws, &path, false).await {
                    Ok(()) | Err(CoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                },
            }
            restored.push(path);
        }
        let detail = json!({"run": run.id, "files": restored});
        let e = Entry::done(&by.actor(), Some(ws), "agent.undo", detail);
        self.audit.record(e).await?;
        Ok(restored)
    }

    /// Whether the run can reach its workspace's agent now.
    async fn conn(&self, run: &Run) -> Result<Arc<AgentConn>, CoreError> {
        self.workspaces
            .agent(&run.user, &run.workspace_id, Action::Change)
            .await
    }

    /// A text file for the model, within [`MAX_TOOL_READ`].
    async fn read_text(&self, run: &Run, path: &str) -> Result<(String, String), CoreError> {
        let ws = &run.workspace_id;
        let (bytes, meta) = self
            .files
            .read(&run.acting(), ws, path, MAX_TOOL_READ)
            .await?;
        Ok((String::from_utf8_lossy(&bytes).into_owned(), meta.etag))
    }

    async fn execute(
        &self,
        run: &Run,
        tool: Tool,
        args: &Value,
        sandbox: Option<aicockpit_workspace_agent_proto::sandbox::SandboxSpec>,
        policy: &Policy,
    ) -> Result<String, CoreError> {
        let s = |k: &str| args[k].as_str().unwrap_or("").to_owned();
        let (me, ws) = (run.acting(), &run.workspace_id);
        match tool {
            Tool::RunCommand => {
                let timeout = args["timeout_secs"].as_u64().unwrap_or(120).clamp(1, 3600);
                let out = self
                    .workspaces
                    .exec(
                        &run.acting(),
                        &run.workspace_id,
                        ExecParams {
                            argv: vec!["sh".into(), "-c".into(), s("command")],
                            cwd: Some("/workspace".into()),
                            timeout_secs: Some(timeout),
                            max_output_bytes: Some(64 * 1024),
                            sandbox,
                            ..Default::default()
                        },
                    )
                    .await?;
                Ok(format!(
                    "exit code: {}\n{}{}{}",
                    out.exit_code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "none (timed out)".into()),
                    String::from_utf8_lossy(&out.stdout),
                    if out.stderr.is_empty() {
                        ""
                    } else {
                        "\n[stderr]\n"
                    },
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
            Tool::ListFiles => {
                let entries = self
                    .files
                    .list_all(&me, ws, &s("path"), MAX_TOOL_ENTRIES)
                    .await?;
                let dir = crate::policy::normalize(&s("path")).unwrap_or_default();
                Ok(entries
                    .iter()
                    .filter(|e| {
                        let rel = if dir.is_empty() {
                            e.name.clone()
                        } else {
                            format!("{dir}/{}", e.name)
                        };
                        guard::may_show(policy, &rel)
                    })
                    .map(|e| {
                        let slash = if e.kind == EntryKind::Dir { "/" } else { "" };
                        format!("{}{slash}", e.name)
                    })
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            Tool::ReadFile => Ok(self.read_text(run, &s("path")).await?.0),
            Tool::Search => {
                let query = aicockpit_workspace_agent_proto::SearchQuery {
                    query: s("query"),
                    regex: false,
                    case_sensitive: None,
                    globs: vec![],
                    path: String::new(),
                    max_results: 200,
                    include_ignored: false,
                };
                let found = self.files.search(&me, ws, query).await?;
                Ok(found
                    .matches
                    .iter()
                    .filter(|m| guard::may_show(policy, &m.path))
                    .map(|m| format!("{}:{}: {}", m.path, m.line, m.text))
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            Tool::WriteFile => {
                let content = s("content");
                let mode = WriteMode::default();
                self.files
                    .write(&me, ws, &s("path"), mode, content.as_bytes())
                    .await?;
                Ok(format!("wrote {}", s("path")))
            }
            Tool::EditFile => {
                let (text, etag) = self.read_text(run, &s("path")).await?;
                let old = s("old_text");
                let n = if old.is_empty() {
                    0
                } else {
                    text.matches(old.as_str()).count()
                };
                if n != 1 {
                    return Ok(format!(
                        "not edited: old_text occurs {n} times (it must occur exactly once)"
                    ));
                }
                let new = text.replacen(old.as_str(), &s("new_text"), 1);
                let mode = WriteMode {
                    if_match: Some(etag),
                    create_only: false,
                };
                self.files
                    .write(&me, ws, &s("path"), mode, new.as_bytes())
                    .await?;
                Ok(format!("edited {}", s("path")))
            }
            Tool::DeleteFile => {
                self.files.delete(&me, ws, &s("path"), false).await?;
                Ok(format!("deleted {}", s("path")))
            }
        }
    }
}

/// One tool call as the model made it, with what its audit rows say.
struct Call<'a> {
    run: &'a Arc<Run>,
    id: &'a str,
    /// The name the model used (a tool's, once judged).
    name: &'a str,
    args: &'a Value,
    actor: String,
    /// The arguments as recorded (file contents as hashes).
    recorded: Value,
}

/// The user's answer to an "ask".
enum Asked {
    Approved(String),
    /// Not run; what the model is told.
    Refused(String),
}

/// One row of a tool call on the audit record.
struct ToolRow {
    actor: String,
    tool: String,
    detail: Value,
    decision: &'static str,
    approved_by: Option<String>,
    result: String,
}

impl ToolRow {
    fn new(
        call: &Call<'_>,
        decision: &'static str,
        approved_by: Option<String>,
        result: String,
    ) -> ToolRow {
        ToolRow {
            actor: call.actor.clone(),
            tool: call.name.to_owned(),
            detail: call.recorded.clone(),
            decision,
            approved_by,
            result,
        }
    }
}
