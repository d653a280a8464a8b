/** Built-in accounts, their sessions, and the caller's own account: /v1/accounts, /v1/sessions, /v1/me. */
import { Type } from 'typebox';
import { formatTime } from '@blindvote/crypto';
import { OneAtATime } from '../auth/one-at-a-time.ts';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import { requireAccount } from '../context.ts';
import type { Api, IssuerContext } from '../context.ts';
import {
  BadCredentials, NoPassword, PowDisabled, PowInvalid, PowRequired, RegistrationClosed, UsernameReserved, UsernameTaken, WrongPassword,
} from '../errors.ts';
import { ipKey } from '../rate-limits.ts';
import { AccountId, AnyPassword, errors, NewPassword, TAGS, Username } from './schemas.ts';

const Me = Type.Object({
  account: AccountId,
  admin: Type.Boolean(),
  via: Type.Union([Type.Literal('password'), Type.Literal('idp')]),
});

const Pow = Type.Object(
  {
    challenge: Type.String({ maxLength: 256, description: 'from GET /v1/accounts/challenge' }),
    solution: Type.String({ minLength: 1, maxLength: 64, description: 'SHA-256(challenge ":" solution) starts with `difficulty` zero bits' }),
  },
  { additionalProperties: false },
);

export function accountRoutes(api: Api, ctx: IssuerContext): void {
  const { store, limits, registrationPow } = ctx;
  // Password checks of one account, one at a time: the failure limit then holds against parallel guesses.
  const attempts = new OneAtATime();

  api.get('/v1/accounts/challenge', {
    schema: {
      summary: 'A proof-of-work challenge for registration (when the server requires one)',
      tags: TAGS,
      response: {
        200: Type.Object({
          challenge: Type.String(),
          difficulty: Type.Integer({ description: 'leading zero bits required of SHA-256(challenge ":" solution)' }),
          expires_at: Type.String({ description: 'RFC 3339 UTC' }),
        }),
        ...errors(404, 500),
      },
    },
  }, async () => {
    if (registrationPow === null) throw new PowDisabled();
    const { challenge, difficulty, expiresAt } = registrationPow.challenge();
    return { challenge, difficulty, expires_at: formatTime(expiresAt) };
  });

  api.post('/v1/accounts', {
    schema: {
      summary: 'Register a built-in account',
      tags: TAGS,
      body: Type.Object({ username: Username, password: NewPassword, pow: Type.Optional(Pow) }, { additionalProperties: false }),
      response: { 201: Type.Object({ account: AccountId }), ...errors(400, 401, 403, 409, 415, 429, 500, 503) },
    },
    onRequest: (request, reply) => limits.registerPerIp(request, reply, ipKey(request)),
  }, async (request, reply) => {
    if (!ctx.allowRegistration) throw new RegistrationClosed();
    const { username, password, pow } = request.body;
    // A name the admins option lists would make its first registrant an admin.
    if (ctx.admins.has(username)) throw new UsernameReserved(username);
    if (registrationPow !== null) {
      if (pow === undefined) throw new PowRequired();
      const problem = registrationPow.spend(pow.challenge, pow.solution);
      if (problem !== null) throw new PowInvalid(problem);
    }
    let created = false;
    try {
      if ((await store.account(username)) !== null) throw new UsernameTaken(username);
      created = await store.createAccount({ username, passwordHash: await hashPassword(password), admin: false, createdAt: ctx.now() });
      if (!created) throw new UsernameTaken(username);
    } finally {
      // A challenge pays for one account: a refused registration may use it again.
      if (!created && pow !== undefined) registrationPow?.release(pow.challenge);
    }
    return reply.code(201).send({ account: username });
  });

  api.post('/v1/sessions', {
    schema: {
      summary: 'Sign in with a built-in account: a short-lived bearer token',
      tags: TAGS,
      body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: AnyPassword }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          token: Type.String({ description: 'send as Authorization: Bearer <token>' }),
          expires_at: Type.String({ description: 'RFC 3339 UTC' }),
          account: AccountId,
          admin: Type.Boolean(),
        }),
        ...errors(400, 401, 415, 429, 500, 503),
      },
    },
    onRequest: (request, reply) => limits.loginPerIp(request, reply, ipKey(request)),
  }, async (request, reply) => {
    const { username, password } = request.body;
    const account = await attempts.run(username, async () => {
      await limits.loginAllowed(request, reply, username);
      const found = await store.account(username);
      // An unknown username costs the same argon2 work as a known one (verifyPassword).
      const ok = await verifyPassword(found?.passwordHash ?? null, password);
      if (found === null || !ok) {
        await limits.loginFailed(request, reply, username);
        throw new BadCredentials();
      }
      return found;
    });
    const { token, expiresAt } = await ctx.sessions.issue(account);
    return { token, expires_at: formatTime(expiresAt), account: account.username, admin: account.admin || ctx.admins.has(account.username) };
  });

  api.get('/v1/me', {
    schema: { summary: 'The calling account', tags: TAGS, response: { 200: Me, ...errors(401, 500) } },
  }, async (request) => {
    const { account, admin, via } = requireAccount(ctx, request);
    return { account, admin, via };
  });

  api.put('/v1/me/password', {
    schema: {
      summary: "Change the calling account's password (ends every session of the account)",
      tags: TAGS,
      body: Type.Object({ current_password: AnyPassword, new_password: NewPassword }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...errors(400, 401, 403, 409, 415, 429, 500, 503) },
    },
  }, async (request, reply) => {
    const principal = requireAccount(ctx, request);
    if (principal.via !== 'password') throw new NoPassword(principal.account);
    const account = await attempts.run(principal.account, async () => {
      await limits.loginAllowed(request, reply, principal.account);
      const found = await store.account(principal.account);
      if (found === null || !(await verifyPassword(found.passwordHash, request.body.current_password))) {
        await limits.loginFailed(request, reply, principal.account);
        throw new WrongPassword();
      }
      return found;
    });
    await store.setPassword(account.username, await hashPassword(request.body.new_password));
    return reply.code(204).send(null);
  });
}
