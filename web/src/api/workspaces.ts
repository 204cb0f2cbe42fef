// Workspaces and templates: `/api/v1/workspaces…`, `/api/v1/templates`.
import { del, get, patch, post, q, seg } from './http';
import { subscribe } from './sse';
import type { CreateWorkspaceRequest, DeletedWorkspace, Devcontainer, ExecRequest, ExecResponse, KeepAliveRequest, ListeningPort, Setup, SetupSummary, Template, UpdateWorkspaceRequest, Usage, Workspace } from './types';

/// The URL of one workspace; the files, terminals, runs, policy and
/// conversations modules build theirs on it.
export const workspacePath = (id: string) => `/api/v1/workspaces/${seg(id)}`;

export const listWorkspaces = () => get<Workspace[]>('/api/v1/workspaces');
export const getWorkspace = (id: string) => get<Workspace>(workspacePath(id));
export const createWorkspace = (body: CreateWorkspaceRequest) => post<Workspace>('/api/v1/workspaces', body);
/// The workspace's setup (a clone and its devcontainer, a rebuild, a
/// postStartCommand) from line `from` on.
export const getSetup = (id: string, from: number, at?: number) => get<Setup>(`${workspacePath(id)}/setup${q({ from, at })}`);
/// The setups kept (the last few, oldest first, without their output).
export const listSetups = (id: string) => get<SetupSummary[]>(`${workspacePath(id)}/setups`);
/// The devcontainer.json applied to the workspace (null when none was).
export const getDevcontainer = (id: string) => get<Devcontainer | null>(`${workspacePath(id)}/devcontainer`);
/// Re-reads its devcontainer.json and makes its container again (follow
/// it with getSetup).
export const rebuildWorkspace = (id: string) => post<Workspace>(`${workspacePath(id)}/rebuild`);
/// Removes the container; `purge` also removes the /workspace data.
export const deleteWorkspace = (id: string, purge: boolean) => del<DeletedWorkspace>(`${workspacePath(id)}${q({ purge })}`);

export type Lifecycle = 'start' | 'stop' | 'restart';
export const changeState = (id: string, verb: Lifecycle) => post<Workspace>(`${workspacePath(id)}/${verb}`);
export const startWorkspace = (id: string) => changeState(id, 'start');

/// Idle stop: keep it running a while, change its own timeout, or note
/// activity the server cannot see (typing in the editor).
export const keepAlive = (id: string, body: KeepAliveRequest) => post<Workspace>(`${workspacePath(id)}/keepalive`, body);
export const updateWorkspace = (id: string, body: UpdateWorkspaceRequest) => patch<Workspace>(workspacePath(id), body);
export const noteActivity = (id: string) => post<void>(`${workspacePath(id)}/activity`);

/// The TCP ports something in the workspace listens on.
/// The listening ports, whole, at once and whenever they change, until the
/// stream ends or `signal` aborts.
export const watchPorts = (id: string, signal: AbortSignal, onPorts: (ports: ListeningPort[]) => void) =>
  subscribe(`${workspacePath(id)}/ports/watch`, signal, (e) => e.event === 'ports' && onPorts(JSON.parse(e.data)));

export const exec = (id: string, body: ExecRequest) => post<ExecResponse>(`${workspacePath(id)}/exec`, body);
export const usage = (id: string) => get<Usage>(`${workspacePath(id)}/usage`);
export const listTemplates = () => get<Template[]>('/api/v1/templates');
