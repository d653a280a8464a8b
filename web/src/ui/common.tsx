/** Small shared pieces: error and status lines, loading, times. */
import type { ComponentChildren } from 'preact';

export function ErrorLine(props: { error: string | null }) {
  if (props.error === null) return null;
  return <p class="error" role="alert">{props.error}</p>;
}

export function Status(props: { children: ComponentChildren }) {
  return <p class="status" role="status">{props.children}</p>;
}

export function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const STATE_LABEL: Record<string, string> = { draft: 'Draft', upcoming: 'Upcoming', open: 'Open', closed: 'Closed' };
