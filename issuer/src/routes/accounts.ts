/** Built-in accounts, their sessions, and the caller's own account: /v1/accounts, /v1/sessions, /v1/me. */
import { Type } from 'typebox';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import { requireAccount } from '../context.ts';
import type { Api, IssuerContext } from '../context.ts';
import { BadCredentials, NoPassword, RegistrationClosed, UsernameReserved, UsernameTaken, WrongPassword } from '../errors.ts';
import { utcSeconds } from '../polls/lifecycle.ts';
import { ipKey } from '../rate-limits.ts';
import { AccountId, AnyPassword, errors, NewPassword, TAGS, Username } from './schemas.ts';

const Me = Type.Object({
  account: AccountId,
  admin: Type.Boolean(),
  via: Type.Union([Type.Literal('password'), Type.Literal('idp')]),
});

export function accountRoutes(api: Api, ctx: IssuerContext): void {
  const { store, limits } = ctx;

  api.post('/v1/accounts', {
    schema: {
      summary: 'Register a built-in account',
      tags: TAGS,
      body: Type.Object({ username: Username, password: NewPassword }, { additionalProperties: false }),
      response: { 201: Type.Object({ account: AccountId }), ...errors(400, 401, 403, 409, 415, 429, 500) },
    },
    onRequest: (request, reply) => limits.registerPerIp(request, reply, ipKey(request)),
  }, async (request, reply) => {
    if (!ctx.allowRegistration) throw new RegistrationClosed();
    const { username, password } = request.body;
    // A name the admins option lists would make its first registrant an admin.
    if (ctx.admins.has(username)) throw new UsernameReserved(username);
    if ((await store.account(username)) !== null) throw new UsernameTaken(username);
    const created = await store.createAccount({ username, passwordHash: await hashPassword(password), admin: false, createdAt: ctx.now() });
    if (!created) throw new UsernameTaken(username);
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
        ...errors(400, 401, 415, 429, 500),
      },
    },
    onRequest: (request, reply) => limits.loginPerIp(request, reply, ipKey(request)),
  }, async (request, reply) => {
    const { username, password } = request.body;
    await limits.loginAllowed(request, reply, username);
    const account = await store.account(username);
    // An unknown username costs the same argon2 work as a known one (verifyPassword).
    const ok = await verifyPassword(account?.passwordHash ?? null, password);
    if (account === null || !ok) {
      await limits.loginFailed(request, reply, username);
      throw new BadCredentials();
    }
    const { token, expiresAt } = await ctx.sessions.issue(account);
    return { token, expires_at: utcSeconds(expiresAt), account: account.username, admin: account.admin || ctx.admins.has(account.username) };
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
      response: { 204: Type.Null(), ...errors(400, 401, 403, 409, 415, 429, 500) },
    },
  }, async (request, reply) => {
    const principal = requireAccount(ctx, request);
    if (principal.via !== 'password') throw new NoPassword(principal.account);
    await limits.loginAllowed(request, reply, principal.account);
    const account = await store.account(principal.account);
    if (account === null || !(await verifyPassword(account.passwordHash, request.body.current_password))) {
      await limits.loginFailed(request, reply, principal.account);
      throw new WrongPassword();
    }
    await store.setPassword(account.username, await hashPassword(request.body.new_password));
    return reply.code(204).send(null);
  });
}
