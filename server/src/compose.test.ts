/**
 * docker-compose.yml and the Dockerfile, checked against the code, since no Docker engine runs the
 * tests: the compose file MUST run the processes of TOPOLOGY (the distributed tests' topology)
 * with the variables each target reads (config.ts VARIABLES, requiredVariables), keep the issuer
 * and the board apart (DESIGN.md promise 5), give each signer key only to the processes that sign
 * with it, and wire ports, URLs, health checks and start-up order consistently. Every test
 * collects all its problems, each naming the service and the variable, and fails with the list.
 *
 * The file is read as compose reads it: YAML merge keys (`<<`) resolved, `$$` and `${VAR}`,
 * `${VAR:-default}`, `${VAR:?message}` interpolated, the keys taken from `blindvote keys` output
 * as a .env file would hold them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { NoteSigner } from '@blindvote/crypto';
import { main } from './cli.ts';
import { ConfigError, loadConfig, requiredVariables, TARGETS, VARIABLES } from './config.ts';
import type { Config, Target } from './config.ts';
import { TOPOLOGY } from './testing/distributed.ts';

const ROOT = new URL('../../', import.meta.url);
const COMPOSE_TEXT = readFileSync(new URL('docker-compose.yml', ROOT), 'utf8');
const DOCKERFILE = readFileSync(new URL('Dockerfile', ROOT), 'utf8');
const INIT_SQL = new URL('deploy/postgres-init.sql', ROOT);

/** The gateway's pools: which variable lists which target's processes (distributed.ts `pool`). */
const POOLS: Readonly<Record<string, Target>> = {
  BLINDVOTE_UPSTREAM_ISSUER: 'issuer',
  BLINDVOTE_UPSTREAM_BALLOT_BOX: 'ballot-box',
  BLINDVOTE_UPSTREAM_BOARD: 'board-reader',
  BLINDVOTE_UPSTREAM_TALLIER: 'tallier',
};
/** Every process makes URLs from it, so every process gets it, the same value everywhere. */
const EVERYWHERE = 'BLINDVOTE_PUBLIC_URL';
/** One value per deployment wherever they are set. */
const DEPLOYMENT_WIDE = ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_KAFKA_BROKERS', 'BLINDVOTE_KAFKA_TOPIC_PREFIX', 'BLINDVOTE_REDIS_URL', 'BLINDVOTE_REDIS_PREFIX', 'BLINDVOTE_BOARD_DATABASE_URL'];
const BOARD_TARGETS: readonly Target[] = TARGETS.filter((t) => requiredVariables(t).includes('BLINDVOTE_BOARD_DATABASE_URL'));

type Env = Record<string, string>;

/** Compose interpolation (compose-spec "Interpolation"); a missing `${VAR:?msg}` throws naming VAR. */
function interpolate(text: string, env: Readonly<Env>, where: string): string {
  return text.replace(/\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (match, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare)!;
    const value = env[name];
    const unset = value === undefined || (op?.startsWith(':') === true && value === '');
    if (op === ':-' || op === '-') return unset ? interpolate(arg ?? '', env, where) : value!;
    if (op === ':?' || op === '?') {
      if (unset) throw new Error(`${where}: required variable ${name} is missing a value: ${arg ?? ''}`);
      return value!;
    }
    return value ?? '';
  });
}

function interpolateTree(node: unknown, env: Readonly<Env>, where: string): unknown {
  if (typeof node === 'string') return interpolate(node, env, where);
  if (Array.isArray(node)) return node.map((x) => interpolateTree(x, env, where));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env, `${where}.${k}`)]));
  }
  return node;
}

interface Service {
  readonly build?: string | { readonly context?: string };
  readonly image?: string;
  readonly command?: unknown;
  readonly environment?: Record<string, unknown> | readonly string[];
  readonly depends_on?: Record<string, { readonly condition?: string }> | readonly string[];
  readonly healthcheck?: { readonly test?: unknown; readonly disable?: boolean };
  readonly ports?: readonly (string | number | { readonly target: number; readonly published?: string | number })[];
  readonly volumes?: readonly (string | { readonly source?: string; readonly target: string })[];
  readonly deploy?: { readonly replicas?: number };
  readonly restart?: string;
}
interface ComposeFile {
  readonly services: Record<string, Service>;
}

function load(env: Readonly<Env>): ComposeFile {
  const raw = parse(COMPOSE_TEXT, { merge: true }) as ComposeFile;
  return interpolateTree(raw, env, 'docker-compose.yml') as ComposeFile;
}

/** What `blindvote keys` prints, as a .env file would hold it. */
async function keysEnv(): Promise<Env> {
  let out = '';
  const code = await main(['keys', '--name', 'localhost'], { out: (t) => (out += t), err: () => {} });
  assert.equal(code, 0, 'blindvote keys failed');
  return Object.fromEntries(out.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

function environment(service: Service): Env {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((e: string) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, ''])));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

function dependsOn(service: Service): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name: string) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d?.condition ?? 'service_started']));
}

interface Component {
  readonly name: string;
  readonly target: Target;
  readonly replicas: number;
  readonly env: Env;
  readonly service: Service;
}

/** The services built from this repository's Dockerfile: the blindvote processes. */
function components(file: ComposeFile): { components: Component[]; problems: string[] } {
  const problems: string[] = [];
  const out: Component[] = [];
  for (const [name, service] of Object.entries(file.services)) {
    const context = typeof service.build === 'string' ? service.build : service.build?.context;
    if (context === undefined) continue;
    if (context !== '.' && context !== './') problems.push(`${name}: build context ${JSON.stringify(context)}, expected the repository root "."`);
    const command = service.command;
    const ok = Array.isArray(command) && command.length === 3 && command[0] === 'serve' && command[1] === '--target' && (TARGETS as readonly unknown[]).includes(command[2]);
    if (!ok) {
      problems.push(`${name}: command ${JSON.stringify(command)}, expected ["serve", "--target", <one of ${TARGETS.join('|')}>]`);
      continue;
    }
    out.push({ name, target: command[2] as Target, replicas: service.deploy?.replicas ?? 1, env: environment(service), service });
  }
  return { components: out, problems };
}

const keys = await keysEnv();
const file = load(keys);
const { components: procs, problems: componentProblems } = components(file);
const byTarget = (target: Target) => procs.filter((p) => p.target === target);
const configs = new Map<string, Config>();
const configProblems: string[] = [];
for (const p of procs) {
  try {
    configs.set(p.name, loadConfig(p.env, p.target));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    configProblems.push(`${p.name} (--target ${p.target}): ${err.message.replace(/^invalid configuration:\s*/, '').replace(/\n\s*/g, '; ')}`);
  }
}
const portOf = (name: string): number | undefined => configs.get(name)?.port;

function check(problems: readonly string[], file = 'docker-compose.yml'): void {
  assert.deepEqual(problems, [], `${file}:\n  ${problems.join('\n  ')}`);
}

test('the Dockerfile runs server/src/cli.ts as a non-root user, with every workspace installed', () => {
  const problems: string[] = [];
  const last = (instruction: string) => [...DOCKERFILE.matchAll(new RegExp(`^${instruction}\\s+(.+)$`, 'gm'))].at(-1)?.[1];
  const entrypoint = last('ENTRYPOINT');
  let argv: unknown = null;
  try {
    argv = JSON.parse(entrypoint ?? 'null');
  } catch {
    problems.push(`Dockerfile: ENTRYPOINT ${entrypoint} is not exec form (a JSON array)`);
  }
  if (!Array.isArray(argv) || argv[0] !== 'node' || argv.at(-1) !== 'server/src/cli.ts') {
    problems.push(`Dockerfile: ENTRYPOINT ${entrypoint} must be ["node", …, "server/src/cli.ts"]`);
  }
  if (last('CMD') !== '["serve"]') problems.push(`Dockerfile: CMD ${last('CMD')} must be ["serve"]`);
  const user = last('USER');
  if (user === undefined || /^(root|0)(:|$)/.test(user)) problems.push(`Dockerfile: the last USER is ${user ?? 'missing'}; the service MUST NOT run as root`);
  const { workspaces } = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { workspaces: string[] };
  for (const ws of workspaces) {
    if (!new RegExp(`^COPY\\s+${ws}/package\\.json\\s`, 'm').test(DOCKERFILE)) problems.push(`Dockerfile: no COPY ${ws}/package.json before npm ci: npm ci fails on a workspace it cannot find`);
  }
  if (!/npm ci --omit=dev/.test(DOCKERFILE)) problems.push('Dockerfile: the runtime dependencies MUST come from npm ci --omit=dev');
  if (!/npm run build -w web/.test(DOCKERFILE)) problems.push('Dockerfile: the web client is not built (npm run build -w web)');
  check(problems, 'Dockerfile');
});

test('every TOPOLOGY target runs in exactly its replicas, and nothing else runs', () => {
  const problems = [...componentProblems];
  for (const target of TARGETS) {
    const want = TOPOLOGY.find((t) => t.target === target)?.replicas ?? 0;
    const have = byTarget(target);
    const count = have.reduce((n, p) => n + p.replicas, 0);
    if (count !== want) problems.push(`--target ${target}: ${count} process(es) (${have.map((p) => `${p.name}×${p.replicas}`).join(', ') || 'none'}), TOPOLOGY runs ${want}`);
  }
  check(problems);
});

test('each process gets only known variables, every one its target requires, and a valid configuration', () => {
  const known = new Set(VARIABLES.map((v) => v.name));
  const problems = [...configProblems];
  for (const p of procs) {
    for (const name of Object.keys(p.env)) if (!known.has(name)) problems.push(`${p.name}: ${name} is not a variable blindvote serve reads (config.ts VARIABLES)`);
    for (const name of requiredVariables(p.target)) if ((p.env[name] ?? '') === '') problems.push(`${p.name}: ${name} missing, required by --target ${p.target}`);
    if ((p.env[EVERYWHERE] ?? '') === '') problems.push(`${p.name}: ${EVERYWHERE} missing`);
    if (p.env['BLINDVOTE_HOST'] !== '0.0.0.0') problems.push(`${p.name}: BLINDVOTE_HOST is ${JSON.stringify(p.env['BLINDVOTE_HOST'])}; other containers reach it only on 0.0.0.0`);
    if ((p.env['BLINDVOTE_PORT'] ?? '') === '') problems.push(`${p.name}: BLINDVOTE_PORT missing; the URLs pointing at it need the port spelled out`);
  }
  for (const name of DEPLOYMENT_WIDE) {
    const values = new Set(procs.filter((p) => p.env[name] !== undefined).map((p) => p.env[name]));
    if (values.size > 1) problems.push(`${name}: differs between processes (${[...values].join(' | ')}); one deployment has one`);
  }
  check(problems);
});

test('a variable some target requires reaches only the targets that require it (promise 5, signer keys)', () => {
  const problems: string[] = [];
  const specific = new Set(TARGETS.flatMap((t) => requiredVariables(t)).filter((name) => name !== EVERYWHERE));
  for (const p of procs) {
    for (const name of Object.keys(p.env)) {
      if (specific.has(name) && !requiredVariables(p.target).includes(name)) problems.push(`${p.name}: ${name} given to --target ${p.target}, which does not require it`);
    }
  }
  // The promises spelled out, so a change to requiredVariables cannot quietly loosen them.
  for (const p of byTarget('issuer')) {
    for (const name of ['BLINDVOTE_BOARD_DATABASE_URL', 'BLINDVOTE_BOARD_SIGNER_KEY', 'BLINDVOTE_ACCEPTANCE_SIGNER_KEY']) {
      if (name in p.env) problems.push(`${p.name}: the issuer MUST NOT get ${name} (promise 5: it knows who, never what)`);
    }
  }
  for (const p of procs.filter((x) => BOARD_TARGETS.includes(x.target))) {
    if ('BLINDVOTE_ISSUER_DATABASE_URL' in p.env) problems.push(`${p.name}: --target ${p.target} MUST NOT get BLINDVOTE_ISSUER_DATABASE_URL (promise 5: the board knows what, never who)`);
  }
  const issuerDbs = new Set(byTarget('issuer').map((p) => p.env['BLINDVOTE_ISSUER_DATABASE_URL']));
  for (const p of procs) {
    const board = p.env['BLINDVOTE_BOARD_DATABASE_URL'];
    if (board !== undefined && issuerDbs.has(board)) problems.push(`${p.name}: BLINDVOTE_BOARD_DATABASE_URL is the issuer's database`);
  }
  for (const p of procs) {
    if ('BLINDVOTE_BOARD_SIGNER_KEY' in p.env && p.target !== 'sequencer') problems.push(`${p.name}: BLINDVOTE_BOARD_SIGNER_KEY belongs to the sequencers only`);
    if ('BLINDVOTE_ACCEPTANCE_SIGNER_KEY' in p.env && p.target !== 'ballot-box') problems.push(`${p.name}: BLINDVOTE_ACCEPTANCE_SIGNER_KEY belongs to the ballot boxes only`);
  }
  check(problems);
});

test('the keys come from `blindvote keys` through ${VAR:?…}, so compose refuses to start without them', () => {
  const problems: string[] = [];
  const raw = parse(COMPOSE_TEXT, { merge: true }) as ComposeFile;
  for (const [name, service] of Object.entries(raw.services)) {
    for (const [variable, value] of Object.entries(environment(service))) {
      if (!(variable in keys)) continue;
      if (!new RegExp(`^\\$\\{${variable}:\\?[^}]+\\}$`).test(value)) problems.push(`${name}: ${variable} is ${JSON.stringify(value)}; expected \${${variable}:?<how to make it>}`);
    }
  }
  const consumed = new Set(procs.flatMap((p) => Object.keys(p.env)));
  for (const variable of Object.keys(keys)) if (!consumed.has(variable)) problems.push(`${variable}: printed by blindvote keys, used by no service`);
  for (const variable of Object.keys(keys)) {
    const without = { ...keys };
    delete without[variable];
    try {
      load(without);
      problems.push(`${variable}: compose would start without it`);
    } catch (err) {
      if (!(err as Error).message.includes(`required variable ${variable} is missing`)) throw err;
    }
  }
  const boardKeys = new Set(byTarget('issuer').map((p) => p.env['BLINDVOTE_BOARD_KEY']));
  for (const p of byTarget('sequencer')) {
    const signer = p.env['BLINDVOTE_BOARD_SIGNER_KEY'];
    if (signer !== undefined && signer !== '' && !boardKeys.has(new NoteSigner(signer).verifierKey)) problems.push(`${p.name}: BLINDVOTE_BOARD_SIGNER_KEY is not the pair of the issuer's BLINDVOTE_BOARD_KEY`);
  }
  check(problems);
});

test('every service has a health check; each process checks its own /readyz (its dependencies answer)', () => {
  const problems: string[] = [];
  for (const [name, service] of Object.entries(file.services)) {
    const t = service.healthcheck?.test;
    if (service.healthcheck?.disable === true || t === undefined || (Array.isArray(t) && (t.length === 0 || t[0] === 'NONE'))) problems.push(`${name}: no healthcheck`);
  }
  for (const p of procs) {
    const t = p.service.healthcheck?.test;
    const text = Array.isArray(t) ? t.join(' ') : String(t);
    const port = portOf(p.name);
    const ownPort = /process\.env\.BLINDVOTE_PORT/.test(text) || (port !== undefined && text.includes(`:${port}/`));
    if (!text.includes('/readyz') || !ownPort) problems.push(`${p.name}: the healthcheck (${text}) must fetch /readyz on its own BLINDVOTE_PORT (depends_on waits for readiness, not mere liveness)`);
    if (/\bcurl\b|\bwget\b/.test(text)) problems.push(`${p.name}: the healthcheck uses curl or wget, which the image does not have; use node's fetch`);
  }
  check(problems);
});

test('every service is restarted when it exits on its own (the supervisor restartExited() plays in the chaos tests)', () => {
  // A sequencer exits on purpose when its lock connection dies (crash-only); only a restart policy brings it back.
  const problems: string[] = [];
  for (const [name, service] of Object.entries(file.services)) {
    if (service.restart !== 'unless-stopped' && service.restart !== 'always') problems.push(`${name}: restart is ${JSON.stringify(service.restart ?? 'no')}; expected unless-stopped (or always)`);
  }
  check(problems);
});

/** Which infrastructure service each URL-bearing variable points at, and the port it listens on. */
function infraHosts(env: Env): { variable: string; host: string; port: number }[] {
  const out: { variable: string; host: string; port: number }[] = [];
  for (const variable of ['BLINDVOTE_ISSUER_DATABASE_URL', 'BLINDVOTE_BOARD_DATABASE_URL', 'BLINDVOTE_REDIS_URL']) {
    const value = env[variable];
    if (value === undefined) continue;
    const url = new URL(value);
    out.push({ variable, host: url.hostname, port: Number(url.port || (url.protocol.startsWith('redis') ? 6379 : 5432)) });
  }
  for (const broker of (env['BLINDVOTE_KAFKA_BROKERS'] ?? '').split(',').filter((b) => b !== '')) {
    const [host, port] = broker.split(':');
    out.push({ variable: 'BLINDVOTE_KAFKA_BROKERS', host: host!, port: Number(port) });
  }
  return out;
}

test('every depends_on names a defined service, start-up order is the tests\' order, no cycle', () => {
  const problems: string[] = [];
  const services = file.services;
  for (const [name, service] of Object.entries(services)) {
    for (const dep of Object.keys(dependsOn(service))) {
      if (!(dep in services)) problems.push(`${name}: depends_on ${dep}, which is not a service`);
      if (dep === name) problems.push(`${name}: depends on itself`);
    }
  }
  const healthy = (name: string, dep: string, why: string) => {
    if (dependsOn(services[name]!)[dep] !== 'service_healthy') problems.push(`${name}: depends_on ${dep} with condition service_healthy missing (${why})`);
  };
  const sequencers = byTarget('sequencer').map((p) => p.name);
  for (const p of procs) {
    for (const { variable, host } of infraHosts(p.env)) healthy(p.name, host, variable);
    if (p.target !== 'sequencer' && 'BLINDVOTE_KAFKA_BROKERS' in p.env) for (const s of sequencers) healthy(p.name, s, 'the sequencers create the Kafka topics');
  }
  for (const p of byTarget('gateway')) {
    for (const variable of Object.keys(POOLS)) {
      for (const url of (p.env[variable] ?? '').split(',').filter((u) => u !== '')) healthy(p.name, new URL(url).hostname, variable);
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done' || !(name in services)) return;
    if (state.get(name) === 'visiting') {
      problems.push(`depends_on cycle: ${[...path, name].join(' → ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const dep of Object.keys(dependsOn(services[name]!))) visit(dep, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of Object.keys(services)) visit(name, []);
  check(problems);
});

test('the gateway lists exactly each pool\'s services on their ports, and publishes the public URL\'s port', () => {
  const problems: string[] = [];
  assert.deepEqual(Object.keys(POOLS).sort(), [...requiredVariables('gateway')].sort(), 'the gateway reads other upstream variables than POOLS here: update POOLS');
  for (const gw of byTarget('gateway')) {
    for (const [variable, target] of Object.entries(POOLS)) {
      const listed = new Map<string, number>();
      for (const value of (gw.env[variable] ?? '').split(',').filter((u) => u !== '')) {
        const url = new URL(value);
        if (url.protocol !== 'http:' || (url.pathname !== '/' && url.pathname !== '')) problems.push(`${gw.name}: ${variable} entry ${value} must be http://<service>:<port>`);
        if (listed.has(url.hostname)) problems.push(`${gw.name}: ${variable} lists ${url.hostname} twice`);
        listed.set(url.hostname, Number(url.port || 80));
      }
      const pool = byTarget(target).map((p) => p.name);
      for (const name of pool) if (!listed.has(name)) problems.push(`${gw.name}: ${variable} leaves out ${name} (--target ${target})`);
      for (const [host, port] of listed) {
        if (!pool.includes(host)) problems.push(`${gw.name}: ${variable} lists ${host}, which is no --target ${target} service`);
        else if (portOf(host) !== undefined && portOf(host) !== port) problems.push(`${gw.name}: ${variable} says ${host}:${port}, but ${host} listens on BLINDVOTE_PORT ${portOf(host)}`);
      }
    }
    const publicUrl = new URL(gw.env[EVERYWHERE] ?? 'http://invalid');
    const publicPort = Number(publicUrl.port || (publicUrl.protocol === 'https:' ? 443 : 80));
    const published = (gw.service.ports ?? []).map((entry) => {
      if (typeof entry === 'object') return { host: Number(entry.published), container: entry.target };
      const parts = String(entry).split(':');
      return { host: Number(parts.at(-2) ?? parts.at(-1)), container: Number(parts.at(-1)) };
    });
    if (!published.some((m) => m.host === publicPort && m.container === portOf(gw.name))) {
      problems.push(`${gw.name}: ${EVERYWHERE} ${publicUrl.href} needs port ${publicPort} published to its BLINDVOTE_PORT ${portOf(gw.name)} (ports: ${JSON.stringify(gw.service.ports ?? [])})`);
    }
  }
  for (const p of procs) if (p.target !== 'gateway' && (p.service.ports ?? []).length > 0) problems.push(`${p.name}: publishes ports; only the gateway faces the public`);
  check(problems);
});

test('infrastructure URLs point at the postgres, redis and kafka services, and the databases deploy/postgres-init.sql makes', () => {
  const problems: string[] = [];
  const services = file.services;
  const image = (name: string) => services[name]?.image ?? '';
  const kind: Record<string, string> = { BLINDVOTE_ISSUER_DATABASE_URL: 'postgres', BLINDVOTE_BOARD_DATABASE_URL: 'postgres', BLINDVOTE_REDIS_URL: 'redis', BLINDVOTE_KAFKA_BROKERS: 'apache/kafka' };
  for (const p of procs) {
    for (const { variable, host, port } of infraHosts(p.env)) {
      if (!(host in services)) problems.push(`${p.name}: ${variable} points at ${host}, which is not a service`);
      else if (!image(host).startsWith(`${kind[variable]}:`)) problems.push(`${p.name}: ${variable} points at ${host} (image ${image(host)}), expected a ${kind[variable]} service`);
      else if (variable === 'BLINDVOTE_KAFKA_BROKERS') {
        const advertised = environment(services[host]!)['KAFKA_ADVERTISED_LISTENERS'] ?? '';
        if (!advertised.split(',').some((l) => l.endsWith(`//${host}:${port}`))) problems.push(`${p.name}: ${variable} ${host}:${port} is not a listener ${host} advertises (${advertised})`);
      } else if (port !== (kind[variable] === 'redis' ? 6379 : 5432)) problems.push(`${p.name}: ${variable} uses port ${port}, not the ${kind[variable]} image's`);
    }
  }

  assert.ok(existsSync(INIT_SQL), 'deploy/postgres-init.sql is missing: docker-compose.yml mounts it as the postgres init script');
  const sql = readFileSync(INIT_SQL, 'utf8');
  const pgName = Object.keys(services).find((name) => image(name).startsWith('postgres:'));
  assert.ok(pgName !== undefined, 'no postgres service');
  const pg = services[pgName]!;
  const mounted = (pg.volumes ?? []).some((v) => (typeof v === 'string' ? /^\.\/deploy\/postgres-init\.sql:\/docker-entrypoint-initdb\.d\/[^:]+\.sql(:ro)?$/.test(v) : v.source === './deploy/postgres-init.sql' && v.target.startsWith('/docker-entrypoint-initdb.d/')));
  if (!mounted) problems.push(`${pgName}: ./deploy/postgres-init.sql is not mounted into /docker-entrypoint-initdb.d/`);
  const pgEnv = environment(pg);
  if ((pgEnv['POSTGRES_PASSWORD'] ?? '') === '') problems.push(`${pgName}: POSTGRES_PASSWORD missing (the image refuses to start)`);
  // The init script's psql variables: their defaults (names) and the environment it reads them from.
  const defaults = Object.fromEntries([...sql.matchAll(/\\set (\w+) (\w+)/g)].map((m) => [m[1]!, m[2]!]));
  const fromEnv = Object.fromEntries([...sql.matchAll(/\\getenv (\w+) (\w+)/g)].map((m) => [m[1]!, m[2]!]));
  const databases = [
    { variable: 'BLINDVOTE_ISSUER_DATABASE_URL', db: defaults['issuer_db'], password: fromEnv['issuer_password'] },
    { variable: 'BLINDVOTE_BOARD_DATABASE_URL', db: defaults['board_db'], password: fromEnv['board_password'] },
  ];
  for (const { variable, db, password } of databases) {
    assert.ok(db !== undefined && password !== undefined, `deploy/postgres-init.sql: no default database name or password variable for ${variable}; update this test`);
    if ((pgEnv[password] ?? '') === '') problems.push(`${pgName}: ${password} missing; deploy/postgres-init.sql reads the ${db} role's password from it`);
    for (const p of procs.filter((x) => x.env[variable] !== undefined)) {
      const url = new URL(p.env[variable]!);
      if (url.pathname !== `/${db}`) problems.push(`${p.name}: ${variable} names database ${url.pathname.slice(1)}, deploy/postgres-init.sql makes ${db}`);
      if (url.username !== db) problems.push(`${p.name}: ${variable} logs in as ${url.username}, deploy/postgres-init.sql makes role ${db}`);
      if (decodeURIComponent(url.password) !== pgEnv[password]) problems.push(`${p.name}: ${variable} password is not ${pgName}'s ${password}`);
    }
  }
  check(problems);
});
