/**
 * @blindvote/tallier: follows every poll's board, counts live with crypto's Recount (the rule the
 * verifier checks), pushes results over WebSocket/SSE, recounts at the close and appends the tally.
 */
export type { BoardFeed, LiveListener, LiveStore } from './ports.ts';
export { newnessKey, STATE_RANK, supersedes } from './ports.ts';
export { MemoryLiveStore } from './live-memory.ts';
export { Tallier } from './tallier.ts';
export type { ErrorKind, TallierOptions } from './tallier.ts';
export { ResultsSnapshotSchema } from './snapshot.ts';
export type { PollState, ResultsSnapshot } from './snapshot.ts';
export { tallierRoutes } from './http/routes.ts';
export type { TallierRoutesOptions } from './http/routes.ts';
