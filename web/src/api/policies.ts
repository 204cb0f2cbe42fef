// The agent's permission policies: per workspace (`/api/v1/workspaces/{id}/policy`)
// and the default new workspaces start with (`/api/v1/ai/default-policy`);
// the server's verdict on a command line under a policy being edited.
import { get, post, put } from './http';
import type { Policy, PolicyCheck, Verdict } from './types';
import { workspacePath } from './workspaces';

export const getPolicy = (id: string) => get<Policy>(`${workspacePath(id)}/policy`);
export const putPolicy = (id: string, policy: Policy) => put<Policy>(`${workspacePath(id)}/policy`, policy);
export const getDefaultPolicy = () => get<Policy>('/api/v1/ai/default-policy');
export const putDefaultPolicy = (policy: Policy) => put<Policy>('/api/v1/ai/default-policy', policy);
export const checkCommand = (body: PolicyCheck) => post<Verdict>('/api/v1/ai/policy/check', body);
