// Users, for admins: `/api/v1/users…`.
import { get, patch, post, seg } from './http';
import type { Account, NewUser, SetPassword, UserChanges } from './types';

const user = (id: string) => `/api/v1/users/${seg(id)}`;

export const listUsers = () => get<Account[]>('/api/v1/users');
export const createUser = (body: NewUser) => post<Account>('/api/v1/users', body);
/// Role and disabled; the last admin cannot be demoted or disabled (409 `last_admin`).
export const updateUser = (id: string, body: UserChanges) => patch<Account>(user(id), body);
/// A new password set by an admin (the user's sessions end).
export const setPassword = (id: string, body: SetPassword) => post<void>(`${user(id)}/password`, body);
