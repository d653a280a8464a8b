/**
 * Live results: the tallier's snapshots over WebSocket, Server-Sent Events when the WebSocket
 * fails; and the browser's own check of a final tally (signed checkpoint, inclusion of the tally
 * entry, counts as the tally entry states them).
 */
import { Tally, fromBase64, leafHash, openCheckpoint, toBase64, verifyInclusion } from '@blindvote/crypto';
import { read } from './api.ts';
import type { ResultsSnapshot } from './api.ts';

export type Transport = 'websocket' | 'sse' | 'connecting';

/** Follows a poll's results; returns a function that stops following. */
export function followResults(pollId: string, onSnapshot: (s: ResultsSnapshot) => void, onTransport: (t: Transport) => void): () => void {
  let stopped = false;
  let ws: WebSocket | null = null;
  let sse: EventSource | null = null;
  const path = `/v1/results/${pollId}`;
  const parse = (data: unknown) => {
    if (typeof data === 'string') onSnapshot(JSON.parse(data) as ResultsSnapshot);
  };
  const fallBack = () => {
    if (stopped || sse !== null) return;
    onTransport('sse');
    sse = new EventSource(`${path}/events`);
    sse.onmessage = (e) => parse(e.data);
  };
  try {
    const url = new URL(`${path}/ws`, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      onTransport('websocket');
    };
    ws.onmessage = (e) => parse(e.data);
    ws.onerror = () => {
      if (!opened) fallBack();
    };
    ws.onclose = () => {
      if (!stopped) fallBack();
    };
  } catch {
    fallBack();
  }
  return () => {
    stopped = true;
    ws?.close();
    sse?.close();
  };
}

export interface TallyCheck {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Checks a final tally in the browser: the checkpoint MUST be signed by the board key of the
 * manifest and carry the board's origin, and the tally entry (leaf `tree_size`, right after the
 * close entry, DESIGN.md "tally") MUST be included in it (RFC 9162 §2.1.3).
 */
export async function checkFinalTally(final: NonNullable<ResultsSnapshot['final']>, board: string, boardKey: string): Promise<TallyCheck> {
  try {
    const origin = board.replace(/^https?:\/\//, '');
    const cp = openCheckpoint(final.checkpoint, [boardKey], origin).checkpoint;
    const tally = Tally.fromJSON(final.tally);
    const index = tally.tree_size;
    const url = new URL(`/v1/board/${tally.poll_id}/proof/inclusion?index=${index}&size=${cp.size}`, board);
    const proof = await read<{ inclusion_proof: string[] }>(await fetch(url, { credentials: 'omit' }));
    verifyInclusion(leafHash(tally.serialize()), index, cp.size, proof.inclusion_proof.map((h, i) => fromBase64(h, `inclusion_proof[${i}]`)), cp.root);
    return { ok: true, detail: `Verified in your browser: the tally is entry ${index} of the board, under a checkpoint of ${cp.size} entries signed by the board key (root ${toBase64(cp.root).slice(0, 12)}…). For a full recount run the audit command below.` };
  } catch (err) {
    return { ok: false, detail: `The final tally did NOT verify in your browser: ${(err as Error).message}. Run the audit command below and report the result.` };
  }
}
