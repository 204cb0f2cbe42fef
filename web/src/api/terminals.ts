// A workspace's terminals: `/api/v1/workspaces/{id}/terminals…` and their WebSocket.
import { del, get, post, q, seg } from './http';
import { ticket } from './auth';
import type { OpenTerminal, TermInfo } from './types';
import { workspacePath } from './workspaces';

const terminals = (id: string) => `${workspacePath(id)}/terminals`;

export const listTerminals = (id: string) => get<TermInfo[]>(terminals(id));
export const openTerminal = (id: string, body: OpenTerminal) => post<TermInfo>(terminals(id), body);
export const killTerminal = (id: string, tid: string) => del<void>(`${terminals(id)}/${seg(tid)}`);

/// The terminal's WebSocket URL, carrying a fresh single-use ticket.
export async function terminalSocketUrl(id: string, tid: string): Promise<string> {
  const t = await ticket();
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${proto}://${location.host}${terminals(id)}/${seg(tid)}/ws${q({ ticket: t.ticket })}`;
}
