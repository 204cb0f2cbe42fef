// What the signed-in user's role lets the web app offer (the server decides
// for real; this only hides what would be refused).
import type { User } from './api/types';

export const isAdmin = (u: Pick<User, 'role'>) => u.role === 'admin';
export const ROLES = ['admin', 'member', 'viewer'] as const;
