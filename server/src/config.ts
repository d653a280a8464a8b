/**
 * Configuration: read once at start-up from the environment (and `blindvote serve` flags, which
 * override it), validated, with errors that name the variable. Behaviour never branches on
 * NODE_ENV. `VARIABLES` is the single list: `.env.example` and `--help` are checked against it.
 */
import { resolve } from 'node:path';

export interface IdpConfig {
  readonly jwksUrl?: string;
  /** PEM SPKI text, or a parsed JWK. */
  readonly publicKey?: string | Readonly<Record<string, unknown>>;
  readonly issuer: string;
  readonly audience: string;
  readonly idClaim: string;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  /** Public base URL (no trailing slash): board URLs and checkpoint origins are made from it. */
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly adminUsername: string;
  readonly admins: readonly string[];
  readonly allowRegistration: boolean;
  /** Proof of work required to register (issuer auth/pow.ts), or false. */
  readonly registrationPow: { readonly difficulty: number } | false;
  readonly tokenKeyBits: number;
  readonly rateLimits: boolean;
  readonly trustProxy: boolean;
  readonly logLevel: string;
  readonly idp: IdpConfig | null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface Variable {
  readonly name: string;
  readonly default?: string;
  readonly doc: string;
}

/** Every variable `blindvote serve` reads, with its default and what it means. */
export const VARIABLES: readonly Variable[] = [
  { name: 'BLINDVOTE_HOST', default: '127.0.0.1', doc: 'interface to listen on (0.0.0.0 for every interface)' },
  { name: 'BLINDVOTE_PORT', default: '8080', doc: 'TCP port to listen on (0: any free port)' },
  { name: 'BLINDVOTE_PUBLIC_URL', doc: 'public base URL voters and verifiers use (default http://<host>:<port>); board origins are made from it, so set it before the first poll' },
  { name: 'BLINDVOTE_DATA_DIR', default: '.data', doc: 'where the embedded databases and keys live (issuer.db, board.db, board-key, admin-password)' },
  { name: 'BLINDVOTE_ADMIN_USERNAME', default: 'admin', doc: 'built-in admin account, created on first start with a one-time password written to <data>/admin-password' },
  { name: 'BLINDVOTE_ADMINS', default: '', doc: 'more admin account ids, comma-separated (built-in usernames or idp:<subject>)' },
  { name: 'BLINDVOTE_ALLOW_REGISTRATION', default: 'true', doc: 'whether anyone may create a built-in account (true|false)' },
  { name: 'BLINDVOTE_REGISTRATION_POW', default: '0', doc: 'proof of work to register: leading zero bits of SHA-256 a client must find (1..32; each bit doubles the work, 20 is about a million hashes), 0 for none' },
  { name: 'BLINDVOTE_TOKEN_KEY_BITS', default: '2048', doc: 'RSA modulus size of each poll token key (2048..8192, multiple of 8)' },
  { name: 'BLINDVOTE_RATE_LIMITS', default: 'true', doc: 'per-IP and per-account rate limits on the issuer (true|false; false only for load tests)' },
  { name: 'BLINDVOTE_TRUST_PROXY', default: 'false', doc: 'trust X-Forwarded-For from a reverse proxy for rate limiting (true|false)' },
  { name: 'BLINDVOTE_LOG_LEVEL', default: 'info', doc: 'fatal|error|warn|info|debug|trace|silent' },
  { name: 'BLINDVOTE_IDP_JWKS_URL', doc: 'external identity provider: JWKS URL its bearer tokens verify against' },
  { name: 'BLINDVOTE_IDP_PUBLIC_KEY', doc: 'external identity provider: a public key (PEM or JWK JSON) instead of a JWKS URL' },
  { name: 'BLINDVOTE_IDP_ISSUER', doc: 'external identity provider: required `iss` claim' },
  { name: 'BLINDVOTE_IDP_AUDIENCE', doc: 'external identity provider: required `aud` claim' },
  { name: 'BLINDVOTE_IDP_ID_CLAIM', default: 'sub', doc: 'external identity provider: the claim that identifies the voter (account id idp:<value>)' },
];

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Builds the configuration from `env`; throws ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const known = new Map(VARIABLES.map((v) => [v.name, v]));
  const get = (name: string): string | undefined => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    return known.get(name)?.default;
  };
  const bool = (name: string): boolean => {
    const value = get(name);
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    problems.push(`${name}: expected true or false, got ${JSON.stringify(value)}`);
    return false;
  };
  const int = (name: string, min: number, max: number): number => {
    const value = get(name) ?? '';
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) problems.push(`${name}: expected an integer ${min}..${max}, got ${JSON.stringify(value)}`);
    return n;
  };

  const host = get('BLINDVOTE_HOST')!;
  const port = int('BLINDVOTE_PORT', 0, 65535);
  let publicUrl = get('BLINDVOTE_PUBLIC_URL') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    const url = new URL(publicUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    if (url.search !== '' || url.hash !== '' || url.username !== '') throw new Error('no query, fragment or credentials allowed');
    publicUrl = url.href.replace(/\/+$/, '');
  } catch (err) {
    problems.push(`BLINDVOTE_PUBLIC_URL: expected an absolute http(s) URL like https://vote.example.org, got ${JSON.stringify(publicUrl)} (${(err as Error).message})`);
  }
  const powBits = int('BLINDVOTE_REGISTRATION_POW', 0, 32);
  const tokenKeyBits = int('BLINDVOTE_TOKEN_KEY_BITS', 2048, 8192);
  if (tokenKeyBits % 8 !== 0) problems.push(`BLINDVOTE_TOKEN_KEY_BITS: must be a multiple of 8, got ${tokenKeyBits}`);
  const logLevel = get('BLINDVOTE_LOG_LEVEL')!;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`BLINDVOTE_LOG_LEVEL: expected one of ${LOG_LEVELS.join('|')}, got ${JSON.stringify(logLevel)}`);

  let idp: IdpConfig | null = null;
  const jwksUrl = get('BLINDVOTE_IDP_JWKS_URL');
  const publicKey = get('BLINDVOTE_IDP_PUBLIC_KEY');
  if (jwksUrl !== undefined || publicKey !== undefined) {
    if (jwksUrl !== undefined && publicKey !== undefined) problems.push('BLINDVOTE_IDP_JWKS_URL and BLINDVOTE_IDP_PUBLIC_KEY: set one, not both');
    const issuer = get('BLINDVOTE_IDP_ISSUER');
    const audience = get('BLINDVOTE_IDP_AUDIENCE');
    if (issuer === undefined) problems.push('BLINDVOTE_IDP_ISSUER: required when an identity provider is configured');
    if (audience === undefined) problems.push('BLINDVOTE_IDP_AUDIENCE: required when an identity provider is configured');
    let key: string | Record<string, unknown> | undefined = publicKey;
    if (publicKey?.trimStart().startsWith('{')) {
      try {
        key = JSON.parse(publicKey) as Record<string, unknown>;
      } catch (err) {
        problems.push(`BLINDVOTE_IDP_PUBLIC_KEY: looks like a JWK but is not JSON (${(err as Error).message})`);
      }
    } else if (publicKey !== undefined && !publicKey.includes('-----BEGIN PUBLIC KEY-----')) {
      problems.push('BLINDVOTE_IDP_PUBLIC_KEY: expected a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWK as JSON');
    }
    if (jwksUrl !== undefined && !/^https?:\/\//.test(jwksUrl)) problems.push(`BLINDVOTE_IDP_JWKS_URL: expected an http(s) URL, got ${JSON.stringify(jwksUrl)}`);
    idp = {
      ...(jwksUrl !== undefined ? { jwksUrl } : {}),
      ...(key !== undefined ? { publicKey: key } : {}),
      issuer: issuer ?? '',
      audience: audience ?? '',
      idClaim: get('BLINDVOTE_IDP_ID_CLAIM')!,
    };
  }

  const config: Config = {
    host,
    port,
    publicUrl,
    dataDir: resolve(get('BLINDVOTE_DATA_DIR')!),
    adminUsername: get('BLINDVOTE_ADMIN_USERNAME')!,
    admins: (get('BLINDVOTE_ADMINS') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    allowRegistration: bool('BLINDVOTE_ALLOW_REGISTRATION'),
    registrationPow: powBits > 0 ? { difficulty: powBits } : false,
    tokenKeyBits,
    rateLimits: bool('BLINDVOTE_RATE_LIMITS'),
    trustProxy: bool('BLINDVOTE_TRUST_PROXY'),
    logLevel,
    idp,
  };
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config;
}
