// The API's request and response types under the names the web app uses:
// the types generated from the OpenAPI document (schema.d.ts, regenerated
// by scripts/web.sh) wherever it describes them, and below them the few
// shapes it leaves open (agent run events, file watch events, the `/v1`
// gateway's OpenAI bodies).
import type { components } from './schema';

type Schemas = components['schemas'];

// Auth and users.
/// The signed-in user (`GET /auth/me`).
export type User = Schemas['UserDto'] & { must_change_password?: boolean; disabled?: boolean };
export type LoginRequest = Schemas['LoginRequest'];
export type LoginResponse = Schemas['LoginResponse'];
export type Ticket = Schemas['TicketDto'];
export type ApiToken = Schemas['TokenDto'];
export type CreateTokenRequest = Schemas['CreateTokenRequest'];
export type CreatedToken = Schemas['CreatedToken'];

// Workspaces.
export type Workspace = Schemas['WorkspaceDto'];
export type CreateWorkspaceRequest = Schemas['CreateWorkspaceRequest'];
export type DeletedWorkspace = Schemas['DeletedDto'];
export type KeepAliveRequest = Schemas['KeepAliveRequest'];
export type UpdateWorkspaceRequest = Schemas['UpdateWorkspaceRequest'];
export type Quota = Schemas['QuotaDto'];
export type ListeningPort = Schemas['ListeningPort'];
export type Template = Schemas['TemplateDto'];
export type Usage = Schemas['WorkspaceUsageDto'];
export type ExecRequest = Schemas['ExecRequestDto'];
export type ExecResponse = Schemas['ExecResponseDto'];

// Files.
export type DirEntry = Schemas['DirEntry'];
export type FileMeta = Schemas['FileMeta'];
export type Uploaded = Schemas['Uploaded'];
export type SearchResult = Schemas['SearchResult'];

// Terminals.
export type TermInfo = Schemas['TermInfo'];
export type OpenTerminal = Schemas['OpenTerminal'];

// Agent runs, their policy, and the audit trail.
export type StartRun = Schemas['StartBody'];
export type RunStarted = Schemas['RunStarted'];
export type Approval = Schemas['Approval'];
export type Undone = Schemas['Undone'];
export type Policy = Schemas['Policy'];
export type AuditRow = Schemas['AuditDto'];
export type Decision = Schemas['Decision'];
export type CommandRule = Schemas['CommandRule'];
export type PathRule = Schemas['PathRule'];

// AI services, aliases and usage.
export type Service = Schemas['ServiceDto'] & { last_test?: LastTest | null };
export type NewService = Schemas['NewServiceBody'];
export type ServiceChanges = Schemas['ServiceBody'];
export type ServiceKind = Schemas['KindName'];
export type Probe = Schemas['ProbeResult'];
export type FailureKind = Schemas['FailureKind'];
export type Alias = Schemas['AliasDto'];
export type AliasBody = Schemas['AliasBody'];
export type UsageRow = Schemas['UsageDto'] & { username?: string | null };

// Conversations (the messages are the client's own, stored as sent).
export type ConversationSummary = Schemas['ConversationSummary'];
export type Conversation = Omit<Schemas['Conversation'], 'messages'> & { messages: ChatMessage[] };

// --- Shapes of the endpoints being added for #12, declared here until the
// regenerated schema.d.ts names them. ---

/// A user as admins manage them (`GET /api/v1/users`) and `GET /auth/me`.
export interface Account {
  id: string;
  username: string;
  role: string;
  created_at: string;
  disabled?: boolean;
  must_change_password?: boolean;
}
export interface NewUser {
  username: string;
  password: string;
  role: string;
  must_change_password: boolean;
}
export interface UserChanges {
  role?: string;
  disabled?: boolean;
}
export interface SetPassword {
  password: string;
  must_change_password: boolean;
}
export interface ChangePassword {
  current_password: string;
  new_password: string;
}

/// The last connection test of a service.
export interface LastTest {
  at: string;
  ok: boolean;
  latency_ms: number;
  models: string[];
  error_kind?: string | null;
  error?: string | null;
}
/// A local server kind with its usual address.
export interface Preset {
  kind: ServiceKind;
  label: string;
  base_url: string;
}
/// A local server that answered (or not) at a preset's address.
export interface Detected extends Preset {
  probe: Probe;
}

/// The AI features whose model can be chosen.
export type FeatureName = 'chat' | 'completion' | 'edit' | 'command_help' | 'agent';
export interface Feature {
  feature: FeatureName;
  label: string;
  default_model?: string | null;
  my_model?: string | null;
  /// The caller's effective model; null or '' is the active service's default.
  model?: string | null;
}
export interface Features {
  features: Feature[];
}
/// Only the keys given change; null clears.
export type FeatureModels = Partial<Record<FeatureName, string | null>>;

/// One bucket of `GET /api/v1/ai/usage/series`.
export interface UsagePoint {
  at: string | number;
  user_id: string;
  username?: string | null;
  service: string;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/// `POST /api/v1/ai/policy/check`.
export interface PolicyCheck {
  policy: Policy;
  command: string;
}
export interface Verdict {
  decision: Decision;
  reason: string;
}

export interface AuditQuery {
  workspace?: string;
  actor?: string;
  action?: string;
  since?: number;
  until?: number;
  before?: number;
  after?: number;
  limit?: number;
}
export interface AuditVerification {
  ok: boolean;
  rows: number;
  broken_seq?: number | null;
  broken_reason?: string | null;
}

/// `GET /api/v1/system`.
export interface SystemInfo {
  version: string;
  database: string;
  engine: string;
  engine_version?: string | null;
  workspaces_by_state: Record<string, number>;
  ready: boolean;
  problems: string[];
  agent_sandbox: { available: boolean; detail?: string | null };
  host_isolation: { enforced: boolean; detail?: string | null };
  uptime_secs: number;
}

// --- Shapes the OpenAPI document leaves open. ---

/// One step of an agent run, as `GET /runs/{run}/events` sends it.
export interface RunEvent {
  /// `assistant`, `tool_call`, `approval_needed`, `tool_result` or `end`.
  type: string;
  id?: string;
  tool?: string;
  args?: Record<string, unknown>;
  decision?: string;
  reason?: string;
  content?: string | null;
  output?: string;
  ok?: boolean;
}

/// One change in a `files/watch` stream's `changes` event.
export interface FsChange {
  kind: 'created' | 'modified' | 'removed';
  path: string;
}

/// A chat message as the OpenAI-compatible gateway takes it.
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  /// Empty: the active service's default model.
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  max_tokens?: number;
  temperature?: number;
}

export interface ChatResponse {
  choices: { message: { content: string } }[];
}

/// One `data:` chunk of a streamed chat completion.
export interface ChatChunk {
  choices?: { delta?: { content?: string } }[];
  error?: { message: string };
}

/// A (fill-in-the-middle) text completion request.
export interface CompletionRequest {
  model: string;
  prompt: string;
  suffix?: string;
  max_tokens?: number;
  temperature?: number;
  stop?: string[];
}

export interface CompletionResponse {
  choices?: { text?: string }[];
}

export interface ModelList {
  data: { id: string }[];
}
