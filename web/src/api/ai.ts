// The AI service registry: services, their tests, the active one, aliases,
// presets for local servers and their detection (`/api/v1/ai/…`).
import { del, get, patch, post, put, seg } from './http';
import type { Alias, AliasBody, Detected, NewService, Preset, Probe, Service, ServiceChanges } from './types';

const service = (id: string) => `/api/v1/ai/services/${seg(id)}`;

export const listServices = () => get<Service[]>('/api/v1/ai/services');
export const createService = (body: NewService) => post<Service>('/api/v1/ai/services', body);
export const updateService = (id: string, body: ServiceChanges) => patch<Service>(service(id), body);
export const deleteService = (id: string) => del<void>(service(id));
/// A real call to the service: latency and models, or what failed.
export const testService = (id: string) => post<Probe>(`${service(id)}/test`);
export const activateService = (id: string) => post<Service>(`${service(id)}/activate`);

export const listAliases = () => get<Alias[]>('/api/v1/ai/aliases');
export const setAlias = (model: string, body: AliasBody) => put<Alias>(`/api/v1/ai/aliases/${seg(model)}`, body);
export const deleteAlias = (model: string) => del<void>(`/api/v1/ai/aliases/${seg(model)}`);

export const listPresets = () => get<Preset[]>('/api/v1/ai/presets');
/// Probes the presets' addresses; what answered has `probe.ok`.
export const detectServers = () => post<Detected[]>('/api/v1/ai/detect');
