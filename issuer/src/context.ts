/** What every route module of the plugin shares (built once in `plugin.ts`). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault,
} from 'fastify';
import type { Principal } from './auth/principal.ts';
import type { RegistrationPow } from './auth/pow.ts';
import type { Sessions } from './auth/sessions.ts';
import { AdminOnly, Unauthenticated } from './errors.ts';
import type { TokenKeys } from './polls/token-keys.ts';
import type { PollLifecycle } from './polls/lifecycle.ts';
import type { BoardPublisher } from './ports.ts';
import type { Limiters } from './rate-limits.ts';
import type { IssuerStore } from './store.ts';

export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface IssuerContext {
  readonly store: IssuerStore;
  readonly board: BoardPublisher;
  readonly sessions: Sessions;
  readonly limits: Limiters;
  readonly lifecycle: PollLifecycle;
  readonly keys: TokenKeys;
  readonly now: () => Date;
  readonly allowRegistration: boolean;
  /** Proof of work required to register, or null. */
  readonly registrationPow: RegistrationPow | null;
  readonly admins: ReadonlySet<string>;
  /** The caller, or null when the request has no Authorization header. */
  principal(request: FastifyRequest): Principal | null;
}

export function requireAccount(ctx: IssuerContext, request: FastifyRequest): Principal {
  const principal = ctx.principal(request);
  if (principal === null) throw new Unauthenticated('sign in first (POST /v1/sessions, or a token from your identity provider)');
  return principal;
}

export function requireAdmin(ctx: IssuerContext, request: FastifyRequest, action: string): Principal {
  const principal = requireAccount(ctx, request);
  if (!principal.admin) throw new AdminOnly(action);
  return principal;
}

/**
 * A preValidation hook for admin routes: who may call is settled before the body is looked at,
 * so a voter gets 403 (and nobody signed in 401) whatever they sent.
 */
export function adminOnly(ctx: IssuerContext, action: string): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    requireAdmin(ctx, request, action);
  };
}
