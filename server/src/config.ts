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

/** What `blindvote serve --target` runs: everything in one process, or one component alone. */
export const TARGETS = ['all', 'issuer', 'ballot-box', 'bulletin-board', 'board-reader', 'sequencer', 'tallier', 'gateway'] as const;
export type Target = (typeof TARGETS)[number];

/** The distributed mode's infrastructure; null in the all-in-one mode. */
export interface DistributedConfig {
  readonly issuerDatabaseUrl: string;
  readonly boardDatabaseUrl: string;
  readonly pgPoolSize: number;
  readonly kafkaBrokers: readonly string[];
  readonly kafkaTopicPrefix: string;
  readonly kafkaPartitions: number;
  readonly kafkaReplication: number;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  /** C2SP signer key of the board (sequencers only). */
  readonly boardSignerKey: string;
  /** C2SP verifier key of the board (the issuer writes it into every manifest). */
  readonly boardKey: string;
  /** C2SP signer key of the ballot boxes' signed acceptances. */
  readonly acceptanceSignerKey: string;
  readonly receiptWaitMs: number;
  readonly maxMergeDelaySeconds: number;
  readonly upstreams: { readonly issuer: readonly string[]; readonly ballotBox: readonly string[]; readonly board: readonly string[]; readonly tallier: readonly string[] };
}

export interface Config {
  readonly target: Target;
  readonly distributed: DistributedConfig;
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
  /** BlindSign threads of the issuer (0: one per core). */
  readonly signingThreads: number;
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
  { name: 'BLINDVOTE_SIGNING_THREADS', default: '0', doc: 'most threads that blind-sign tokens off the event loop, started as needed (1..256), 0 for one per core' },
  { name: 'BLINDVOTE_RATE_LIMITS', default: 'true', doc: 'per-IP and per-account rate limits on the issuer (true|false; false only for load tests)' },
  { name: 'BLINDVOTE_TRUST_PROXY', default: 'false', doc: 'trust X-Forwarded-For from a reverse proxy for rate limiting (true|false)' },
  { name: 'BLINDVOTE_LOG_LEVEL', default: 'info', doc: 'fatal|error|warn|info|debug|trace|silent' },
  { name: 'BLINDVOTE_IDP_JWKS_URL', doc: 'external identity provider: JWKS URL its bearer tokens verify against' },
  { name: 'BLINDVOTE_IDP_PUBLIC_KEY', doc: 'external identity provider: a public key (PEM or JWK JSON) instead of a JWKS URL' },
  { name: 'BLINDVOTE_IDP_ISSUER', doc: 'external identity provider: required `iss` claim' },
  { name: 'BLINDVOTE_IDP_AUDIENCE', doc: 'external identity provider: required `aud` claim' },
  { name: 'BLINDVOTE_IDP_ID_CLAIM', default: 'sub', doc: 'external identity provider: the claim that identifies the voter (account id idp:<value>)' },
  // The distributed mode (--target other than all): each variable says which targets need it.
  { name: 'BLINDVOTE_ISSUER_DATABASE_URL', doc: 'distributed, issuer: PostgreSQL URL of the issuer database (never the board database)' },
  { name: 'BLINDVOTE_BOARD_DATABASE_URL', doc: 'distributed, bulletin-board, sequencer, board-reader, ballot-box, tallier: PostgreSQL URL of the board database' },
  { name: 'BLINDVOTE_PG_POOL_SIZE', default: '10', doc: 'distributed: connections per PostgreSQL pool (1..200)' },
  { name: 'BLINDVOTE_KAFKA_BROKERS', doc: 'distributed, all but board-reader and gateway: Kafka bootstrap servers, comma-separated host:port' },
  { name: 'BLINDVOTE_KAFKA_TOPIC_PREFIX', default: 'blindvote.', doc: 'distributed: prefix of the Kafka topics and consumer groups (one per deployment)' },
  { name: 'BLINDVOTE_KAFKA_PARTITIONS', default: '16', doc: 'distributed: partitions of the topics when the sequencer creates them (polls spread over them)' },
  { name: 'BLINDVOTE_KAFKA_REPLICATION', default: '3', doc: 'distributed, sequencer: replication factor of the topics when the sequencer creates them; above 1, acks=all waits for 2 in-sync copies (so with 2, one broker down stops ballot intake: run 3; 1 only for a single-broker test cluster: an acknowledged ballot then survives the broker process, not its host)' },
  { name: 'BLINDVOTE_REDIS_URL', doc: 'distributed, all but board-reader and gateway: Redis URL (rate limits, live results, replies)' },
  { name: 'BLINDVOTE_REDIS_PREFIX', default: 'blindvote:', doc: 'distributed: prefix of every Redis key and channel (one per deployment)' },
  { name: 'BLINDVOTE_BOARD_SIGNER_KEY', doc: 'distributed, bulletin-board and sequencer: the board checkpoint signer key (C2SP, secret; blindvote keys makes one)' },
  { name: 'BLINDVOTE_BOARD_KEY', doc: 'distributed, issuer: the board verifier key (C2SP) every manifest names' },
  { name: 'BLINDVOTE_ACCEPTANCE_SIGNER_KEY', doc: 'distributed, ballot-box: signer key of the signed acceptances (C2SP, secret; the same on every ballot box)' },
  { name: 'BLINDVOTE_RECEIPT_WAIT_MS', default: '2000', doc: 'distributed, ballot-box: how long a ballot waits for the sequencer before the answer is 202 with a signed acceptance (1..25000 ms)' },
  { name: 'BLINDVOTE_MAX_MERGE_DELAY', default: '60', doc: 'distributed, ballot-box: seconds within which an accepted ballot is promised on the board (30..86400)' },
  { name: 'BLINDVOTE_UPSTREAM_ISSUER', doc: 'distributed, gateway: issuer base URLs, comma-separated' },
  { name: 'BLINDVOTE_UPSTREAM_BALLOT_BOX', doc: 'distributed, gateway: ballot box base URLs, comma-separated' },
  { name: 'BLINDVOTE_UPSTREAM_BOARD', doc: 'distributed, gateway: board reader base URLs, comma-separated' },
  { name: 'BLINDVOTE_UPSTREAM_TALLIER', doc: 'distributed, gateway: tallier base URLs, comma-separated' },
];

/** Which distributed variables each target cannot run without. */
const REQUIRED: Record<Target, readonly string[]> = {
  all: [],
  issuer: ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_ISSUER_DATABASE_URL', 'BLINDVOTE_KAFKA_BROKERS', 'BLINDVOTE_REDIS_URL', 'BLINDVOTE_BOARD_KEY'],
  'ballot-box': ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_BOARD_DATABASE_URL', 'BLINDVOTE_KAFKA_BROKERS', 'BLINDVOTE_REDIS_URL', 'BLINDVOTE_ACCEPTANCE_SIGNER_KEY'],
  'bulletin-board': ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_BOARD_DATABASE_URL', 'BLINDVOTE_KAFKA_BROKERS', 'BLINDVOTE_REDIS_URL', 'BLINDVOTE_BOARD_SIGNER_KEY'],
  sequencer: ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_BOARD_DATABASE_URL', 'BLINDVOTE_KAFKA_BROKERS', 'BLINDVOTE_REDIS_URL', 'BLINDVOTE_BOARD_SIGNER_KEY'],
  'board-reader': ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_BOARD_DATABASE_URL'],
  tallier: ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_BOARD_DATABASE_URL', 'BLINDVOTE_KAFKA_BROKERS', 'BLINDVOTE_REDIS_URL'],
  gateway: ['BLINDVOTE_UPSTREAM_ISSUER', 'BLINDVOTE_UPSTREAM_BALLOT_BOX', 'BLINDVOTE_UPSTREAM_BOARD', 'BLINDVOTE_UPSTREAM_TALLIER'],
};

/** The variables a target reads beyond the common ones (docker-compose.yml is checked against it). */
export function requiredVariables(target: Target): readonly string[] {
  return REQUIRED[target];
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Builds the configuration of `target` from `env`; throws ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env, target: Target = 'all'): Config {
  const problems: string[] = [];
  for (const name of REQUIRED[target]) {
    if ((env[name] ?? '') === '') problems.push(`${name}: required by --target ${target}`);
  }
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
  const signingThreads = int('BLINDVOTE_SIGNING_THREADS', 0, 256);
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

  const list = (name: string): string[] => (get(name) ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
  const urls = (name: string, protocols: readonly string[]): string[] => {
    const values = list(name);
    for (const value of values) {
      let ok = false;
      try {
        ok = protocols.includes(new URL(value).protocol);
      } catch {
        ok = false;
      }
      if (!ok) problems.push(`${name}: expected ${protocols.map((p) => `${p}//…`).join(' or ')} URLs, got ${JSON.stringify(value.replace(/\/\/[^@/]*@/, '//***@'))}`);
    }
    return values;
  };
  const key = (name: string, prefix: RegExp, what: string): string => {
    const value = get(name) ?? '';
    if (value !== '' && !prefix.test(value)) problems.push(`${name}: expected ${what}`);
    return value;
  };
  const brokers = list('BLINDVOTE_KAFKA_BROKERS');
  for (const broker of brokers) if (!/^[^\s:/]+:\d{1,5}$/.test(broker)) problems.push(`BLINDVOTE_KAFKA_BROKERS: expected host:port, got ${JSON.stringify(broker)}`);
  const distributed: DistributedConfig = {
    issuerDatabaseUrl: urls('BLINDVOTE_ISSUER_DATABASE_URL', ['postgres:', 'postgresql:'])[0] ?? '',
    boardDatabaseUrl: urls('BLINDVOTE_BOARD_DATABASE_URL', ['postgres:', 'postgresql:'])[0] ?? '',
    pgPoolSize: int('BLINDVOTE_PG_POOL_SIZE', 1, 200),
    kafkaBrokers: brokers,
    kafkaTopicPrefix: get('BLINDVOTE_KAFKA_TOPIC_PREFIX')!,
    kafkaPartitions: int('BLINDVOTE_KAFKA_PARTITIONS', 1, 10_000),
    kafkaReplication: int('BLINDVOTE_KAFKA_REPLICATION', 1, 32),
    redisUrl: urls('BLINDVOTE_REDIS_URL', ['redis:', 'rediss:'])[0] ?? '',
    redisPrefix: get('BLINDVOTE_REDIS_PREFIX')!,
    boardSignerKey: key('BLINDVOTE_BOARD_SIGNER_KEY', /^PRIVATE\+KEY\+/, 'a C2SP signer key (PRIVATE+KEY+<name>+<id>+<key>); blindvote keys makes one'),
    boardKey: key('BLINDVOTE_BOARD_KEY', /^[^+\s]+\+[0-9a-f]{8}\+/, 'a C2SP verifier key (<name>+<id>+<key>), the pair of BLINDVOTE_BOARD_SIGNER_KEY'),
    acceptanceSignerKey: key('BLINDVOTE_ACCEPTANCE_SIGNER_KEY', /^PRIVATE\+KEY\+/, 'a C2SP signer key (PRIVATE+KEY+<name>+<id>+<key>); blindvote keys makes one'),
    // Under the gateway's 30 s wait for an answer, so a slow board gives a 202, never a 504.
    receiptWaitMs: int('BLINDVOTE_RECEIPT_WAIT_MS', 1, 25_000),
    // Above a sequencer failover (a consumer-group session plus a rebalance: seconds).
    maxMergeDelaySeconds: int('BLINDVOTE_MAX_MERGE_DELAY', 30, 86_400),
    upstreams: {
      issuer: urls('BLINDVOTE_UPSTREAM_ISSUER', ['http:', 'https:']),
      ballotBox: urls('BLINDVOTE_UPSTREAM_BALLOT_BOX', ['http:', 'https:']),
      board: urls('BLINDVOTE_UPSTREAM_BOARD', ['http:', 'https:']),
      tallier: urls('BLINDVOTE_UPSTREAM_TALLIER', ['http:', 'https:']),
    },
  };

  const config: Config = {
    target,
    distributed,
    host,
    port,
    publicUrl,
    dataDir: resolve(get('BLINDVOTE_DATA_DIR')!),
    adminUsername: get('BLINDVOTE_ADMIN_USERNAME')!,
    admins: (get('BLINDVOTE_ADMINS') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    allowRegistration: bool('BLINDVOTE_ALLOW_REGISTRATION'),
    registrationPow: powBits > 0 ? { difficulty: powBits } : false,
    tokenKeyBits,
    signingThreads,
    rateLimits: bool('BLINDVOTE_RATE_LIMITS'),
    trustProxy: bool('BLINDVOTE_TRUST_PROXY'),
    logLevel,
    idp,
  };
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config;
}
