// The API's request and response types under the names the web app uses:
// the types generated from the OpenAPI document (schema.d.ts, regenerated
// by scripts/web.sh) wherever it describes them, and below them the few
// shapes it leaves open (agent run events, file watch events, the `/v1`
// gateway's OpenAI bodies).
import type { components, operations } from './schema';

type Schemas = components['schemas'];

// Auth and users.
export type User = Schemas['UserDto'];
/// A user as admins manage them (`GET /api/v1/users`).
export type Account = Schemas['UserDto'];
export type NewUser = Schemas['CreateUserRequest'];
export type UserChanges = Schemas['UpdateUserRequest'];
export type SetPassword = Schemas['ResetPasswordRequest'];
export type ChangePassword = Schemas['ChangePasswordRequest'];
export type LoginRequest = Schemas['LoginRequest'];
export type LoginResponse = Schemas['LoginResponse'];
export type Ticket = Schemas['TicketDto'];
export type ApiToken = Schemas['TokenDto'];
export type CreateTokenRequest = Schemas['CreateTokenRequest'];
export type CreatedToken = Schemas['CreatedToken'];
export type GitCredential = Schemas['GitCredentialDto'];
export type SshKey = Schemas['SshKeyDto'];
export type Dotfiles = Schemas['DotfilesDto'];
export type CreateGitCredential = Schemas['CreateGitCredential'];

// Workspaces.
export type Workspace = Schemas['WorkspaceDto'];
export type CreateWorkspaceRequest = Schemas['CreateWorkspaceRequest'];
/// A new workspace's setup (a git clone): its output and outcome.
export type Setup = Schemas['SetupDto'];
export type SetupSummary = Schemas['SetupSummaryDto'];
export type Devcontainer = Schemas['DevcontainerDto'];
export type DeletedWorkspace = Schemas['DeletedDto'];
export type KeepAliveRequest = Schemas['KeepAliveRequest'];
export type UpdateWorkspaceRequest = Schemas['UpdateWorkspaceRequest'];
/// Snapshots (filesystem, data and settings of a workspace) and the kept
/// data of deleted workspaces.
export type Snapshot = Schemas['SnapshotDto'];
export type KeptData = Schemas['KeptDataDto'];
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

// AI services, aliases, models per feature and usage.
export type Service = Schemas['ServiceDto'];
export type LastTest = Schemas['LastTest'];
/// A local server kind with its usual address.
export type Preset = Schemas['Preset'];
/// A local server that answered (or not) at a preset's address.
export type Detected = Schemas['Detected'];
export type NewService = Schemas['NewServiceBody'];
export type ServiceChanges = Schemas['ServiceBody'];
export type ServiceKind = Schemas['KindName'];
export type Probe = Schemas['ProbeResult'];
export type FailureKind = Schemas['FailureKind'];
export type Alias = Schemas['AliasDto'];
export type AliasBody = Schemas['AliasBody'];
/// Totals per user, service and model (`GET /ai/usage`).
export type UsageRow = Schemas['UsageDto'];
/// One bucket (`at`, ms since the epoch) of `GET /ai/usage/series`.
export type UsagePoint = Schemas['UsageDto'];
/// The AI features whose model can be chosen.
export type FeatureName = Schemas['Feature'];
export type Feature = Schemas['FeatureModel'];
export type Features = Schemas['FeaturesDto'];
/// Only the keys given change; null clears.
export type FeatureModels = Partial<Record<FeatureName, string | null>>;
export type PolicyCheck = Schemas['PolicyCheckBody'];
export type Verdict = Schemas['Verdict'];
export type AuditVerification = Schemas['VerifyDto'];
/// `GET /api/v1/system`; the two checks' details are open objects in the document.
export type SystemInfo = Omit<Schemas['SystemDto'], 'agent_sandbox' | 'host_isolation'> & {
  engine_version?: string | null;
  agent_sandbox: { available: boolean; detail?: string | null };
  host_isolation: { enforced: boolean; detail?: string | null };
};
/// The filters of `GET /api/v1/audit` (times in ms since the epoch).
export type AuditQuery = NonNullable<operations['audit_audit']['parameters']['query']>;

// Conversations (the messages are the client's own, stored as sent).
export type ConversationSummary = Schemas['ConversationSummary'];
export type Conversation = Omit<Schemas['Conversation'], 'messages'> & { messages: ChatMessage[] };

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

// Previews of workspace ports.
export type PreviewAuthorize = Schemas['AuthorizeBody'];
export type PreviewLink = Schemas['AuthorizedDto'];
export type PortShare = Schemas['PortShareDto'];
export type ShareLevel = 'private' | 'authenticated' | 'public';
