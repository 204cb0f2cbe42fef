// Sessions and tokens: `/api/v1/auth/…`.
import { del, get, post, put, seg } from './http';
import type { ApiToken, ChangePassword, CreatedToken, CreateGitCredential, CreateTokenRequest, Dotfiles, GitCredential, SshKey, LoginRequest, LoginResponse, Ticket, User } from './types';

export const login = (body: LoginRequest) => post<LoginResponse>('/api/v1/auth/login', body);
export const logout = () => post<void>('/api/v1/auth/logout');
export const me = () => get<User>('/api/v1/auth/me');
/// The caller's own password; the other sessions end.
export const changePassword = (body: ChangePassword) => post<void>('/api/v1/auth/password', body);

export const listTokens = () => get<ApiToken[]>('/api/v1/auth/tokens');
export const createToken = (body: CreateTokenRequest) => post<CreatedToken>('/api/v1/auth/tokens', body);
export const revokeToken = (id: string) => del<void>(`/api/v1/auth/tokens/${seg(id)}`);

/// My git credentials: tokens for git servers, given to git inside my
/// workspaces on demand (the token goes in once and never comes back).
export const listGitCredentials = () => get<GitCredential[]>('/api/v1/git-credentials');
export const createGitCredential = (body: CreateGitCredential) => post<GitCredential>('/api/v1/git-credentials', body);
export const deleteGitCredential = (id: string) => del<void>(`/api/v1/git-credentials/${seg(id)}`);
/// My SSH key pair, made by the server (its public half; null if none).
export const getSshKey = () => get<SshKey | null>('/api/v1/ssh-key');
export const generateSshKey = () => post<SshKey>('/api/v1/ssh-key');
export const deleteSshKey = () => del<void>('/api/v1/ssh-key');
/// My dotfiles repository, installed into the workspaces I make (null if none).
export const getDotfiles = () => get<Dotfiles | null>('/api/v1/dotfiles');
export const setDotfiles = (body: Dotfiles) => put<Dotfiles>('/api/v1/dotfiles', body);
export const deleteDotfiles = () => del<void>('/api/v1/dotfiles');

/// A single-use, short-lived ticket for a WebSocket URL (browsers cannot
/// send headers on WebSockets).
export const ticket = () => post<Ticket>('/api/v1/auth/ticket');
