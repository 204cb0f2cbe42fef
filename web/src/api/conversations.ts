// The caller's chats in a workspace: `/api/v1/workspaces/{id}/conversations…`.
import { del, get, put, seg } from './http';
import type { ChatMessage, Conversation, ConversationSummary } from './types';
import { workspacePath } from './workspaces';

const conversations = (id: string) => `${workspacePath(id)}/conversations`;

export const listConversations = (id: string) => get<ConversationSummary[]>(conversations(id));
export const getConversation = (id: string, cid: string) => get<Conversation>(`${conversations(id)}/${seg(cid)}`);
/// Creates or replaces a chat; the server titles it from the first message.
export const saveConversation = (id: string, cid: string, messages: ChatMessage[]) => put<void>(`${conversations(id)}/${seg(cid)}`, { messages });
export const deleteConversation = (id: string, cid: string) => del<void>(`${conversations(id)}/${seg(cid)}`);
