/**
 * @blindvote/issuer: accounts and authentication, polls, voter rolls, per-poll token keys and
 * blind issuance (RFC 9474). The fastify plugin is `issuer`; the storage is an `IssuerStore`.
 */
export { issuer } from './plugin.ts';
export type { IssuerOptions } from './plugin.ts';
export type { BoardPublisher } from './ports.ts';
export type {
  AccountRecord, Frozen, IssueOutcome, IssuerStore, NewAccount, NewRoll, PollDraft, PollRecord, PollState, RollSummary, TokenKeyMaterial,
} from './store.ts';
export { SqliteIssuerStore } from './store/sqlite.ts';
export { IssuerStoreError, PostgresIssuerStore } from './store/postgres.ts';
export type { PostgresIssuerStoreOptions } from './store/postgres.ts';
export { ensureAdmin } from './auth/bootstrap.ts';
export type { IdpOptions } from './auth/idp.ts';
export type { Principal } from './auth/principal.ts';
export { DEFAULT_RATE_LIMITS } from './rate-limits.ts';
export type { Limit, RateLimitOptions } from './rate-limits.ts';
export { CloseScheduler } from './polls/scheduler.ts';
export type { SchedulerDeps } from './polls/scheduler.ts';
export { PollLifecycle } from './polls/lifecycle.ts';
export type { LifecycleDeps } from './polls/lifecycle.ts';
export { ROLL_DOMAIN, rollCommitment } from './polls/roll.ts';
