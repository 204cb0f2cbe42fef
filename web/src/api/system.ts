// The installation's state for admins: `/api/v1/system`.
import { get } from './http';
import type { SystemInfo } from './types';

export const systemInfo = () => get<SystemInfo>('/api/v1/system');
