import type { ResultsSnapshot } from '../snapshot.ts';

/** Reads SSE events (blocks separated by a blank line) from a fetch body as they arrive. */
export function eventReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const blocks: string[] = [];
  let buffer = '';
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let at: number;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        blocks.push(buffer.slice(0, at));
        buffer = buffer.slice(at + 2);
      }
    }
  })();
  const data = () => blocks.filter((b) => b.startsWith('data: ')).map((b) => JSON.parse(b.slice('data: '.length)) as ResultsSnapshot);
  return { blocks, data, done };
}
