/**
 * @blindvote/verifier: check a blindvote board from the outside, with nothing but crypto/ and
 * Node built-ins. Every command returns `Check[]` (`checks.ts`); the CLI (`cli.ts`) prints them.
 */
export { allPassed, MAX_EVIDENCE_ITEMS } from './checks.ts';
export type { Check } from './checks.ts';
export { BoardFetchError, DEFAULT_TIMEOUT_MS, MAX_ENCODED_ENTRY_SIZE, MAX_TILE_SIZE, boardUrl, dirFetcher, httpFetcher, openBoard } from './fetch.ts';
export type { BoardFetcher, HttpFetcherOptions } from './fetch.ts';
export { AUDIT_CHECKS, MAX_UNREADABLE_RUN, audit } from './audit.ts';
export type { AuditCheckName, AuditOptions, AuditProgress } from './audit.ts';
export { checkReceipt } from './receipt-check.ts';
export type { ReceiptCheckOptions } from './receipt-check.ts';
export { MAX_STATE_SIZE, MONITOR_STATE_VERSION, monitor, parseMonitorState, serializeMonitorState } from './monitor.ts';
export type { MonitorOptions, MonitorResult, MonitorState } from './monitor.ts';
export { checkConsistency, proveEntry0, readManifest } from './board.ts';
export type { Consistency, SignedCheckpoint } from './board.ts';
