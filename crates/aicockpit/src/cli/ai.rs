//! `aicockpit ai services …` and `aicockpit ai chat`.

use super::{exit, Client, Connection, Failure, Output};
use clap::Subcommand;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;

#[derive(Subcommand)]
pub(crate) enum AiCmd {
    /// Manage AI services (admins).
    #[command(subcommand)]
    Services(ServicesCmd),
    /// Give the agent a task in a workspace: steps stream by, and actions
    /// the policy marks "ask" are put to you here.
    Agent {
        task: String,
        #[arg(long, short)]
        workspace: String,
        #[arg(long, short)]
        model: Option<String>,
        #[arg(long)]
        max_steps: Option<u32>,
        /// Approve every "ask" action without asking (denied ones stay denied).
        #[arg(long)]
        yes: bool,
    },
    /// Ask the active (or a given) model; the answer streams as it comes.
    Chat {
        prompt: String,
        /// Model, alias or `service/model` (default: the active service's default).
        #[arg(long, short)]
        model: Option<String>,
        #[arg(long)]
        max_tokens: Option<u32>,
    },
}

#[derive(Subcommand)]
pub(crate) enum ServicesCmd {
    /// Add a service.
    Add {
        name: String,
        /// openai, azure_openai, lm_studio, ollama, vllm or custom.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        base_url: Option<String>,
        /// Read the API key from standard input.
        #[arg(long)]
        api_key_stdin: bool,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        azure_deployment: Option<String>,
        #[arg(long)]
        azure_api_version: Option<String>,
    },
    /// List services.
    Ls,
    /// Make a real minimal call and report latency, models, or the failure.
    Test { name: String },
    /// Make a service the active one.
    Use { name: String },
    /// Remove a service.
    Rm { name: String },
}

pub(crate) async fn run(conn: Connection, cmd: AiCmd, out: Output) -> u8 {
    let client = match Client::from_connection(&conn) {
        Ok(c) => c,
        Err(f) => return f.report(),
    };
    let r = match cmd {
        AiCmd::Services(c) => services(&client, c, out).await,
        AiCmd::Chat {
            prompt,
            model,
            max_tokens,
        } => chat(&client, &prompt, model, max_tokens, out).await,
        AiCmd::Agent {
            task,
            workspace,
            model,
            max_steps,
            yes,
        } => agent(&client, &workspace, task, model, max_steps, yes, out).await,
    };
    r.unwrap_or_else(Failure::report)
}

async fn services(c: &Client, cmd: ServicesCmd, out: Output) -> Result<u8, Failure> {
    match cmd {
        ServicesCmd::Add {
            name,
            kind,
            base_url,
            api_key_stdin,
            model,
            azure_deployment,
            azure_api_version,
        } => {
            let mut body = json!({"name": name, "kind": kind});
            if api_key_stdin {
                let key = crate::admin::read_password(true, "").map_err(|code| Failure {
                    message: "cannot read the API key".into(),
                    code,
                })?;
                body["api_key"] = key.into();
            }
            for (k, v) in [
                ("base_url", base_url),
                ("default_model", model),
                ("azure_deployment", azure_deployment),
                ("azure_api_version", azure_api_version),
            ] {
                if let Some(v) = v {
                    body[k] = v.into();
                }
            }
            let s: Value = c
                .call(Method::POST, "/api/v1/ai/services", Some(&body))
                .await?;
            out.print(
                &s,
                &format!(
                    "added {} ({})",
                    s["name"].as_str().unwrap_or("?"),
                    s["kind"].as_str().unwrap_or("?")
                ),
            );
        }
        ServicesCmd::Ls => {
            let list: Value = c.call(Method::GET, "/api/v1/ai/services", None).await?;
            let mut text = format!(
                "{:<2}{:<20} {:<13} {:<40} {}",
                "", "NAME", "KIND", "BASE URL", "MODEL"
            );
            for s in list.as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "\n{:<2}{:<20} {:<13} {:<40} {}",
                    if s["active"] == true { "*" } else { "" },
                    s["name"].as_str().unwrap_or("?"),
                    s["kind"].as_str().unwrap_or("?"),
                    s["base_url"].as_str().unwrap_or("?"),
                    s["default_model"].as_str().unwrap_or("-"),
                ));
            }
            out.print(&list, &text);
        }
        ServicesCmd::Test { name } => {
            let r: Value = c
                .call(
                    Method::POST,
                    &format!("/api/v1/ai/services/{name}/test"),
                    None,
                )
                .await?;
            let text = if r["ok"] == true {
                format!(
                    "ok in {:.0} ms; models: {}",
                    r["latency_ms"].as_f64().unwrap_or(0.0),
                    r["models"]
                        .as_array()
                        .map(|m| m
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "failed ({}): {}",
                    r["error_kind"].as_str().unwrap_or("?"),
                    r["error"].as_str().unwrap_or("?")
                )
            };
            out.print(&r, &text);
            if r["ok"] != true {
                return Ok(exit::UNAVAILABLE);
            }
        }
        ServicesCmd::Use { name } => {
            let s: Value = c
                .call(
                    Method::POST,
                    &format!("/api/v1/ai/services/{name}/activate"),
                    None,
                )
                .await?;
            out.print(
                &s,
                &format!(
                    "{} is now the active service",
                    s["name"].as_str().unwrap_or("?")
                ),
            );
        }
        ServicesCmd::Rm { name } => {
            let _: Value = c
                .call(Method::DELETE, &format!("/api/v1/ai/services/{name}"), None)
                .await?;
            out.print(&json!({"deleted": name}), &format!("removed {name}"));
        }
    }
    Ok(exit::OK)
}

async fn chat(
    c: &Client,
    prompt: &str,
    model: Option<String>,
    max_tokens: Option<u32>,
    out: Output,
) -> Result<u8, Failure> {
    let mut body = json!({
        "model": model.unwrap_or_default(),
        "stream": true,
        "messages": [{"role": "user", "content": prompt}],
    });
    if let Some(m) = max_tokens {
        body["max_tokens"] = m.into();
    }
    let resp = c.raw(Method::POST, "/v1/chat/completions", &body).await?;
    let mut stream = resp.bytes_stream();
    let mut parser = aicockpit_ai::sse::SseParser::default();
    let mut answer = aicockpit_ai::assemble::Assembled::default();
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure {
            message: format!("the answer broke off: {e}"),
            code: exit::UNAVAILABLE,
        })?;
        parser.push(&chunk);
        while let Some(ev) = parser.next_event() {
            if ev.data == "[DONE]" {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            if let Some(e) = v.get("error") {
                return Err(Failure {
                    message: e["message"]
                        .as_str()
                        .unwrap_or("the AI service failed")
                        .to_owned(),
                    code: exit::UNAVAILABLE,
                });
            }
            let before = answer.content.len();
            answer.push(&v);
            if !out.json {
                let _ = stdout.write_all(&answer.content.as_bytes()[before..]);
                let _ = stdout.flush();
            }
        }
    }
    if out.json {
        out.print(
            &json!({"content": answer.content, "finish_reason": answer.finish_reason}),
            "",
        );
    } else {
        let _ = writeln!(stdout);
    }
    Ok(exit::OK)
}

#[allow(clippy::too_many_arguments)]
async fn agent(
    c: &Client,
    workspace: &str,
    task: String,
    model: Option<String>,
    max_steps: Option<u32>,
    yes: bool,
    out: Output,
) -> Result<u8, Failure> {
    use std::io::{BufRead, IsTerminal};
    let started: Value = c
        .call(
            Method::POST,
            &format!("/api/v1/workspaces/{workspace}/runs"),
            Some(&json!({"task": task, "model": model, "max_steps": max_steps})),
        )
        .await?;
    let run = started["run_id"].as_str().unwrap_or_default().to_owned();
    let resp = c.get_stream(&format!("/api/v1/runs/{run}/events")).await?;
    let mut stream = resp.bytes_stream();
    let mut parser = aicockpit_ai::sse::SseParser::default();
    let interactive = std::io::stdin().is_terminal();
    let mut reason = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure {
            message: format!("the event stream broke off: {e}"),
            code: exit::UNAVAILABLE,
        })?;
        parser.push(&chunk);
        while let Some(ev) = parser.next_event() {
            let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                continue;
            };
            if out.json {
                println!("{v}");
            }
            match v["type"].as_str().unwrap_or("") {
                "assistant" if !out.json => {
                    if let Some(t) = v["content"].as_str().filter(|t| !t.is_empty()) {
                        println!("{t}");
                    }
                }
                "tool_call" if !out.json => println!(
                    "→ {} {} [{}]",
                    v["tool"].as_str().unwrap_or("?"),
                    v["args"],
                    v["decision"].as_str().unwrap_or("?")
                ),
                "tool_result" if !out.json => {
                    let o = v["output"].as_str().unwrap_or("");
                    println!("  {}", o.lines().take(8).collect::<Vec<_>>().join("\n  "));
                }
                "approval_needed" => {
                    let id = v["id"].as_str().unwrap_or_default().to_owned();
                    let (approve, remember) = if yes {
                        (true, false)
                    } else if interactive {
                        eprint!(
                            "Allow {} {}? [y]es / [n]o / [a]lways: ",
                            v["tool"].as_str().unwrap_or("?"),
                            v["args"]
                        );
                        let mut line = String::new();
                        let _ = std::io::stdin().lock().read_line(&mut line);
                        match line.trim() {
                            "y" | "yes" => (true, false),
                            "a" | "always" => (true, true),
                            _ => (false, false),
                        }
                    } else {
                        eprintln!(
                            "rejected {} (no terminal to ask; use --yes)",
                            v["tool"].as_str().unwrap_or("?")
                        );
                        (false, false)
                    };
                    let _: Value = c
                        .call(
                            Method::POST,
                            &format!("/api/v1/runs/{run}/approvals/{id}"),
                            Some(&json!({"approve": approve, "remember": remember})),
                        )
                        .await?;
                }
                "end" => reason = v["reason"].as_str().unwrap_or("").to_owned(),
                _ => {}
            }
        }
        if !reason.is_empty() {
            break;
        }
    }
    if !out.json {
        println!("(run {run} ended: {reason})");
    }
    Ok(if reason == "error" {
        exit::FAILURE
    } else {
        exit::OK
    })
}
