//! `WorkspaceFiles`: every file operation in a workspace, through its
//! agent, for the API and the AI assistant alike: one place for the access
//! check, the configured limits and the audit record of each change.
//!
//! Paths are relative to /workspace (or absolute under it); the agent
//! refuses anything that leaves it. Rows name paths, sizes, ETags and the
//! SHA-256 of what was written, never contents.

use crate::access::Action;
use crate::audit::{hex, Audit, Entry};
use crate::auth::Principal;
use crate::config::WorkspaceAgentConfig;
use crate::workspace_agent::{AgentConn, ChannelMsg, Watching};
use crate::workspaces::WorkspaceManager;
use crate::CoreError;
use aicockpit_workspace_agent_proto::{
    ArchiveStats, DirEntry, FileMeta, ListPage, Request, SearchQuery, SearchResult,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Answers that need no scan.
const CALL: Duration = Duration::from_secs(30);
/// Uploads, archives, deletes of trees and searches may take a while.
const LONG_CALL: Duration = Duration::from_secs(600);

/// How a write may replace what is there.
#[derive(Debug, Clone, Default)]
pub struct WriteMode {
    /// Only if the file still has this ETag (else 412).
    pub if_match: Option<String>,
    /// Only if there is no file yet (else 412).
    pub create_only: bool,
}

/// A read in progress: the file's metadata, then its bytes on `data`.
pub struct Reading {
    pub meta: FileMeta,
    pub data: mpsc::Receiver<ChannelMsg>,
}

pub struct WorkspaceFiles {
    workspaces: Arc<WorkspaceManager>,
    audit: Arc<Audit>,
    limits: WorkspaceAgentConfig,
}

impl WorkspaceFiles {
    pub fn new(
        workspaces: Arc<WorkspaceManager>,
        audit: Arc<Audit>,
        limits: WorkspaceAgentConfig,
    ) -> WorkspaceFiles {
        WorkspaceFiles {
            workspaces,
            audit,
            limits,
        }
    }

    /// The largest file a write may leave (`agent.max_file_bytes`).
    pub fn max_file_bytes(&self) -> u64 {
        self.limits.max_file_bytes
    }

    async fn conn(
        &self,
        p: &Principal,
        ws: &str,
        action: Action,
    ) -> Result<(String, Arc<AgentConn>), CoreError> {
        self.workspaces.agent_of(p, ws, action).await
    }

    /// Every change is on the record, and is activity (for idle stop).
    async fn record(&self, p: &Principal, ws: &str, action: &str, detail: Value) {
        self.workspaces.activity().touch(ws);
        let e = Entry::done(&p.actor(), Some(ws), action, detail);
        self.audit.note(e).await;
    }

    /// One page of a directory's entries, sorted by name: at most `limit`
    /// (bounded by the agent) from `offset` on, and the total.
    pub async fn list(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<ListPage, CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        let req = Request::List {
            path: path.to_owned(),
            offset,
            limit,
        };
        conn.call_as(req, LONG_CALL).await
    }

    /// Every entry of a directory, page by page (for callers that need them
    /// all, within `max` entries).
    pub async fn list_all(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        max: usize,
    ) -> Result<Vec<DirEntry>, CoreError> {
        let mut all = Vec::new();
        loop {
            let page = self.list(p, ws, path, all.len(), None).await?;
            let done = page.entries.is_empty() || all.len() + page.entries.len() >= page.total;
            all.extend(page.entries);
            if all.len() > max {
                return Err(CoreError::TooLarge(format!(
                    "{path} holds more than {max} entries"
                )));
            }
            if done {
                return Ok(all);
            }
        }
    }

    pub async fn stat(&self, p: &Principal, ws: &str, path: &str) -> Result<FileMeta, CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        conn.call_as(
            Request::Stat {
                path: path.to_owned(),
            },
            CALL,
        )
        .await
    }

    /// Starts streaming a file's bytes.
    pub async fn open(&self, p: &Principal, ws: &str, path: &str) -> Result<Reading, CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        let path = path.to_owned();
        let (v, _, data) = conn
            .call_with_channel(|channel| Request::Read { path, channel }, CALL)
            .await?;
        let meta = serde_json::from_value(v).map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(Reading { meta, data })
    }

    /// A whole file, refused (without reading on) once it passes `max`.
    pub async fn read(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        max: u64,
    ) -> Result<(Vec<u8>, FileMeta), CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        let path_owned = path.to_owned();
        let (v, ch, mut rx) = conn
            .call_with_channel(
                |channel| Request::Read {
                    path: path_owned,
                    channel,
                },
                CALL,
            )
            .await?;
        let meta: FileMeta =
            serde_json::from_value(v).map_err(|e| CoreError::Internal(e.to_string()))?;
        if meta.size > max {
            conn.close_channel(ch);
            return Err(too_large(path, max));
        }
        let mut bytes = Vec::new();
        while let Some(m) = rx.recv().await {
            if let ChannelMsg::Data(b) = m {
                bytes.extend_from_slice(&b);
                // The file may grow while it is read.
                if bytes.len() as u64 > max {
                    conn.close_channel(ch);
                    return Err(too_large(path, max));
                }
            }
        }
        Ok((bytes, meta))
    }

    /// Streams `body` into a file, replaced atomically by the agent at the
    /// end (never truncated by a failed upload); within
    /// `agent.max_file_bytes`.
    pub async fn write_stream<S>(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        mode: WriteMode,
        body: S,
    ) -> Result<FileMeta, CoreError>
    where
        S: Stream<Item = Result<Bytes, CoreError>> + Unpin,
    {
        let (id, conn) = self.conn(p, ws, Action::Change).await?;
        let max = self.limits.max_file_bytes;
        let make = |channel| Request::Write {
            path: path.to_owned(),
            channel,
            if_match: mode.if_match,
            create_only: mode.create_only,
            max_bytes: max,
        };
        let mut hasher = Sha256::new();
        let hashed = body.map(|chunk| {
            if let Ok(b) = &chunk {
                hasher.update(b);
            }
            chunk
        });
        let too_large = format!("files may be at most {max} bytes");
        let v = conn
            .upload(make, hashed, max, &too_large, LONG_CALL)
            .await?;
        let meta: FileMeta =
            serde_json::from_value(v).map_err(|e| CoreError::Internal(e.to_string()))?;
        let detail = json!({
            "path": meta.path, "bytes": meta.size, "etag": meta.etag,
            "sha256": hex(&hasher.finalize()),
        });
        self.record(p, &id, "file.write", detail).await;
        Ok(meta)
    }

    /// Writes `content` as a whole file.
    pub async fn write(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        mode: WriteMode,
        content: &[u8],
    ) -> Result<FileMeta, CoreError> {
        let chunks: Vec<Result<Bytes, CoreError>> = content
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let body = futures_util::stream::iter(chunks);
        self.write_stream(p, ws, path, mode, body).await
    }

    pub async fn mkdir(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        parents: bool,
    ) -> Result<FileMeta, CoreError> {
        let (id, conn) = self.conn(p, ws, Action::Change).await?;
        let req = Request::Mkdir {
            path: path.to_owned(),
            parents,
        };
        let meta: FileMeta = conn.call_as(req, CALL).await?;
        self.record(p, &id, "file.mkdir", json!({"path": meta.path}))
            .await;
        Ok(meta)
    }

    pub async fn rename(
        &self,
        p: &Principal,
        ws: &str,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<FileMeta, CoreError> {
        let (id, conn) = self.conn(p, ws, Action::Change).await?;
        let req = Request::Rename {
            from: from.to_owned(),
            to: to.to_owned(),
            overwrite,
        };
        let meta: FileMeta = conn.call_as(req, CALL).await?;
        let detail = json!({"from": from, "to": meta.path, "overwrite": overwrite});
        self.record(p, &id, "file.rename", detail).await;
        Ok(meta)
    }

    pub async fn delete(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        recursive: bool,
    ) -> Result<(), CoreError> {
        let (id, conn) = self.conn(p, ws, Action::Change).await?;
        let req = Request::Delete {
            path: path.to_owned(),
            recursive,
        };
        conn.call(req, LONG_CALL).await?;
        let detail = json!({"path": path, "recursive": recursive});
        self.record(p, &id, "file.delete", detail).await;
        Ok(())
    }

    /// Unpacks a tar (optionally gzipped) under `path`, within
    /// `agent.max_archive_bytes` and `agent.max_archive_entries`.
    pub async fn unpack<S>(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
        body: S,
    ) -> Result<ArchiveStats, CoreError>
    where
        S: Stream<Item = Result<Bytes, CoreError>> + Unpin,
    {
        let (id, conn) = self.conn(p, ws, Action::Change).await?;
        let (max_bytes, max_entries) = (
            self.limits.max_archive_bytes,
            self.limits.max_archive_entries,
        );
        let make = |channel| Request::ArchiveIn {
            path: path.to_owned(),
            channel,
            max_bytes,
            max_entries,
        };
        let v = conn
            .upload(make, body, max_bytes, "the archive is too large", LONG_CALL)
            .await?;
        let stats: ArchiveStats =
            serde_json::from_value(v).map_err(|e| CoreError::Internal(e.to_string()))?;
        let detail = json!({"path": path, "stats": &stats});
        self.record(p, &id, "file.archive_in", detail).await;
        Ok(stats)
    }

    /// Starts streaming a directory as a `.tar.gz`.
    pub async fn pack(
        &self,
        p: &Principal,
        ws: &str,
        path: &str,
    ) -> Result<mpsc::Receiver<ChannelMsg>, CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        let path = path.to_owned();
        let (_, _, rx) = conn
            .call_with_channel(|channel| Request::ArchiveOut { path, channel }, CALL)
            .await?;
        Ok(rx)
    }

    /// Starts watching a directory tree for changes.
    pub async fn watch(&self, p: &Principal, ws: &str, path: &str) -> Result<Watching, CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        let path = path.to_owned();
        Watching::start(conn, |channel| Request::Watch { path, channel }, CALL).await
    }

    pub async fn search(
        &self,
        p: &Principal,
        ws: &str,
        query: SearchQuery,
    ) -> Result<SearchResult, CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        conn.call_as(Request::Search(query), LONG_CALL).await
    }

    /// File names matching `query` fuzzily, best first.
    pub async fn find(
        &self,
        p: &Principal,
        ws: &str,
        query: &str,
        max_results: usize,
    ) -> Result<Vec<String>, CoreError> {
        let (_, conn) = self.conn(p, ws, Action::View).await?;
        let req = Request::FindFiles {
            query: query.to_owned(),
            max_results,
        };
        conn.call_as(req, LONG_CALL).await
    }
}

fn too_large(path: &str, max: u64) -> CoreError {
    CoreError::TooLarge(format!("{path} is larger than {max} bytes"))
}
