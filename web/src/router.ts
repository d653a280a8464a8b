/** Client routes (History API). The server answers each with index.html (server/src/web.ts). */
import { useEffect, useState } from 'preact/hooks';

export const CLIENT_ROUTES = ['/', '/signin', '/receipts', '/admin', '/vote/:id', '/results/:id', '/admin/polls/:id'] as const;

export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return path;
}

/** A same-app link: navigates without a reload. */
export function onLink(event: MouseEvent): void {
  const a = (event.target as HTMLElement).closest('a');
  if (a === null || a.origin !== location.origin || a.hasAttribute('download') || a.target !== '' || event.ctrlKey || event.metaKey) return;
  if (!CLIENT_ROUTES.some((r) => new RegExp(`^${r.replace(/:id/g, '[^/]+')}$`).test(a.pathname))) return;
  event.preventDefault();
  navigate(a.pathname);
}
