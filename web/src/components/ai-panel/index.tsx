// The AI panel beside the editor: the tab strip (Chat, Agent, Activity);
// each tab lives in its own file here.
import { useState } from 'preact/hooks';
import { Chat } from './chat';
import { AgentRun } from './agent-run';
import { Activity } from './activity';
import { NoAiService } from '../no-ai-service';
import type { ActiveFile, InsertCode } from './editor-link';

type Tab = 'chat' | 'agent' | 'activity';

const TABS: { tab: Tab; label: string }[] = [
  { tab: 'chat', label: 'Chat' },
  { tab: 'agent', label: 'Agent' },
  { tab: 'activity', label: 'Activity' },
];

export function AiPanel({ id, admin, activeFile, onInsert }: { id: string; admin: boolean; activeFile: ActiveFile; onInsert: InsertCode }) {
  const [tab, setTab] = useState<Tab>('chat');
  return (
    <div class="ai">
      <div class="tabs small-tabs">
        {TABS.map((t) => (
          <div class={`tab ${tab === t.tab ? 'active' : ''}`} onClick={() => setTab(t.tab)}>
            {t.label}
          </div>
        ))}
      </div>
      <NoAiService admin={admin} compact />
      {tab === 'chat' ? <Chat id={id} activeFile={activeFile} onInsert={onInsert} /> : tab === 'agent' ? <AgentRun id={id} /> : <Activity id={id} />}
    </div>
  );
}
