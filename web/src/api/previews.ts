// Web previews of workspace ports: one-use links that log the browser in
// on the preview's own origin, and who may open each port.
import { get, post, put, seg } from './http';
import type { PortShare, PreviewAuthorize, PreviewLink, ShareLevel } from './types';
import { workspacePath } from './workspaces';

export const authorizePreview = (body: PreviewAuthorize) => post<PreviewLink>('/api/v1/previews/authorize', body);
export const portShares = (ws: string) => get<PortShare[]>(`${workspacePath(ws)}/ports/shares`);
export const setPortShare = (ws: string, port: number, level: ShareLevel) =>
  put<PortShare>(`${workspacePath(ws)}/ports/${seg(String(port))}/share`, { level });

/// Opens a port's preview in a new tab, logged in. The tab is opened at
/// once (in the click) so pop-up blockers let it through, then sent on.
export async function openPreview(ws: string, port: number): Promise<void> {
  const tab = window.open('about:blank', '_blank');
  // The previewed app must not be able to steer this tab (window.opener).
  if (tab) tab.opener = null;
  try {
    const link = await authorizePreview({ workspace: ws, port, next: '/' });
    if (tab) tab.location.href = link.url;
    else location.href = link.url;
  } catch (e) {
    tab?.close();
    throw e;
  }
}
