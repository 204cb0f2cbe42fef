// AI agent runs: start one in a workspace, follow its events, answer its
// "ask"s, stop it, undo its file changes (`/api/v1/workspaces/{id}/runs`, `/api/v1/runs/{run}/…`).
import { post, seg } from './http';
import { subscribe } from './sse';
import type { Approval, RunEvent, RunStarted, StartRun, Undone } from './types';
import { workspacePath } from './workspaces';

const run = (runId: string) => `/api/v1/runs/${seg(runId)}`;

export const startRun = (workspace: string, body: StartRun) => post<RunStarted>(`${workspacePath(workspace)}/runs`, body);

/// The run's events from its start on, until it ends or `signal` aborts.
export const runEvents = (runId: string, signal: AbortSignal, onEvent: (e: RunEvent) => void) =>
  subscribe(`${run(runId)}/events`, signal, (e) => onEvent(JSON.parse(e.data)));

export const answerApproval = (runId: string, callId: string, body: Approval) => post<void>(`${run(runId)}/approvals/${seg(callId)}`, body);
export const stopRun = (runId: string) => post<void>(`${run(runId)}/stop`);
export const undoRun = (runId: string) => post<Undone>(`${run(runId)}/undo`);
