#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
/**
 * `blindvote`: the one entry point (Loki-style). `serve` runs the service, `simulate` runs whole
 * elections against a running one. Exit status: 0 ok, 1 failure, 2 usage or configuration error.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { generateSignerKey } from '@blindvote/crypto';
import { ConfigError, loadConfig, TARGETS, VARIABLES } from './config.ts';
import type { Target } from './config.ts';
import { readAdminPassword } from './keys.ts';

export { TARGETS };

const HELP = `blindvote — anonymous, verifiable voting

Usage:
  blindvote serve [--target T] [--host H] [--port N] [--data DIR] [--public-url URL]
  blindvote simulate [--url URL] [--voters N] [--polls P] [--json] [options]
  blindvote keys [--name HOST]
  blindvote <command> --help

Commands:
  serve      run the service (npm start runs "blindvote serve")
  simulate   run whole elections with simulated voters against a running service
  keys       print new signer and verifier keys for a distributed deployment
`;

const KEYS_HELP = `blindvote keys — new keys for a distributed deployment

Usage: blindvote keys [--name HOST]

Prints, as environment lines, a new board key pair (BLINDVOTE_BOARD_SIGNER_KEY for the
sequencers, BLINDVOTE_BOARD_KEY for the issuer) and a new acceptance signer key
(BLINDVOTE_ACCEPTANCE_SIGNER_KEY for every ballot box). The signer keys are secrets.
--name is the key name in every signature line (default: localhost); use the public host.
`;

const SERVE_HELP = `blindvote serve — run the service

Usage: blindvote serve [--target T] [--host H] [--port N] [--data DIR] [--public-url URL]

--target all (the default) runs every component (issuer, ballot box, bulletin board, tallier) in
one process on embedded storage kept in the data directory (it survives restarts). On the first
start it creates the admin account and writes its one-time password to <data>/admin-password.

Any other target runs one component alone: the distributed mode, on PostgreSQL, Redis and
Kafka (docker-compose.yml wires a whole cluster; ARCHITECTURE.md draws it):
  issuer          accounts, polls, voter rolls, token issuance (admin password: <data>)
  ballot-box      anonymous ballot intake (stateless: run several)
  board-reader    the boards' tlog-tiles and proof API (stateless: run several)
  sequencer       the one writer of the boards (run two: a standby takes over)
  bulletin-board  board-reader and sequencer in one process
  tallier         live counts and the final tally (run several)
  gateway         the one public origin: routes to the others, serves the web client
Each target reads the variables marked with its name below and fails at start-up naming any
that is missing or malformed.

Options (each overrides its environment variable; a .env file in the working directory
fills in variables the environment does not set, see .env.example):
  --target T       ${TARGETS.join('|')} (default all)
  --host H         BLINDVOTE_HOST
  --port N         BLINDVOTE_PORT
  --data DIR       BLINDVOTE_DATA_DIR
  --public-url U   BLINDVOTE_PUBLIC_URL
  -h, --help       this text

Environment:
${VARIABLES.map((v) => `  ${v.name.padEnd(30)} ${v.doc}${v.default !== undefined && v.default !== '' ? ` (default ${v.default})` : ''}`).join('\n')}
`;

const SIMULATE_HELP = `blindvote simulate — whole elections with simulated voters

Usage: blindvote simulate [--url URL] [--voters N] [--polls P] [--json] [options]

Signs in as the admin, creates P polls with N newly registered voters on the roll, publishes
them, and has every voter fetch a blind token, wait a random delay, vote with a random choice
and verify the receipt. Then it closes the polls, waits for the tallies and audits each board
with the verifier. Exit 0 when every receipt verified, every tally matched the simulated votes
and every audit passed; 1 otherwise.

Options:
  --url URL            the service (default http://127.0.0.1:8080)
  --voters N           simulated voters (default 200)
  --polls P            polls, each voted on by every voter (default 1)
  --concurrency C      requests in flight (default 16)
  --max-delay-ms MS    each voter's random wait before voting (default 100)
  --admin USER         admin username (default admin)
  --admin-password PW  admin password (default: $BLINDVOTE_ADMIN_PASSWORD, else <data>/admin-password)
  --data DIR           data directory of a local service, to read the admin password (default .data)
  --keep-open          do not close the polls (no tally, no audit)
  --json               print the summary as JSON on stdout
  -h, --help           this text
`;

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

class UsageError extends Error {}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Any free TCP port, for --port 0 without a public URL (board origins need the real port). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function serve(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', default: 'all' },
      host: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      'public-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.out(SERVE_HELP);
    return 0;
  }
  if (!(TARGETS as readonly string[]).includes(values.target!)) {
    throw new UsageError(`--target: ${JSON.stringify(values.target)} is not a target; choose one of ${TARGETS.join(', ')}`);
  }
  const target = values.target as Target;
  // A .env file in the working directory fills in variables the environment does not set.
  if (existsSync('.env')) process.loadEnvFile('.env');
  const env = { ...process.env };
  if (values.host !== undefined) env['BLINDVOTE_HOST'] = values.host;
  if (values.port !== undefined) env['BLINDVOTE_PORT'] = values.port;
  if (values.data !== undefined) env['BLINDVOTE_DATA_DIR'] = values.data;
  if (values['public-url'] !== undefined) env['BLINDVOTE_PUBLIC_URL'] = values['public-url'];
  if ((env['BLINDVOTE_PORT'] ?? '') === '0' && !env['BLINDVOTE_PUBLIC_URL']) env['BLINDVOTE_PORT'] = String(await freePort(env['BLINDVOTE_HOST'] ?? '127.0.0.1'));
  const config = loadConfig(env, target);

  const started = performance.now();
  if (target !== 'all') {
    const { buildTarget } = await import('./distributed/targets.ts');
    const service = await buildTarget(config);
    let address: string;
    try {
      address = await service.app.listen({ host: config.host, port: config.port });
    } catch (err) {
      await service.close();
      throw err;
    }
    io.out(`blindvote ${target} is running (distributed; started in ${Math.round(performance.now() - started)} ms)\n  listening on       ${address}\n  public URL         ${config.publicUrl}\n`);
    if (service.adminPasswordFile !== null) io.out(`  first login        username "${config.adminUsername}", password in ${service.adminPasswordFile}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    io.err(`blindvote ${target}: shutting down\n`);
    await service.close();
    return 0;
  }
  const { buildService } = await import('./app.ts');
  const service = await buildService(config);
  const address = await service.app.listen({ host: config.host, port: config.port });
  const base = config.publicUrl;
  const admin = readAdminPassword(config.dataDir);
  io.out(
    [
      `blindvote is running (all-in-one, embedded storage in ${config.dataDir}; started in ${Math.round(performance.now() - started)} ms)`,
      `  listening on       ${address}`,
      `  voters and admins  ${base}/   (the web client)`,
      `  polls              ${base}/v1/polls`,
      `  boards             ${base}/poll/<poll_id>   (C2SP tlog-tiles; audit: npx blindvote-verify audit ${base}/poll/<poll_id>)`,
      `  live results       ${base}/v1/results/<poll_id>   (WebSocket: /ws, SSE: /events)`,
      `  API                ${base}/openapi.json`,
      service.adminPasswordFile !== null
        ? `  first login        username "${config.adminUsername}", password "${admin?.password}" (also in ${service.adminPasswordFile}; change it with PUT /v1/me/password)`
        : admin !== null
          ? `  admin              username "${admin.username}"; its first password is in ${config.dataDir}/admin-password until you delete that file`
          : `  admin              username "${config.adminUsername}"`,
      `  try it             npm run simulate -- --voters 200`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.err('blindvote: shutting down (draining appends)\n');
  await service.close();
  return 0;
}

async function simulateCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      voters: { type: 'string' },
      polls: { type: 'string' },
      concurrency: { type: 'string' },
      'max-delay-ms': { type: 'string' },
      admin: { type: 'string', default: 'admin' },
      'admin-password': { type: 'string' },
      data: { type: 'string', default: '.data' },
      'keep-open': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.out(SIMULATE_HELP);
    return 0;
  }
  const delay = values['max-delay-ms'];
  if (delay !== undefined && !/^\d+$/.test(delay)) throw new UsageError(`--max-delay-ms: expected a whole number of milliseconds, got ${JSON.stringify(delay)}`);
  const password = values['admin-password'] ?? process.env['BLINDVOTE_ADMIN_PASSWORD'] ?? readAdminPassword(values.data!)?.password;
  if (password === undefined) {
    throw new UsageError(`no admin password: pass --admin-password, set BLINDVOTE_ADMIN_PASSWORD, or point --data at the service's data directory (no ${values.data}/admin-password there)`);
  }
  const { simulate } = await import('./simulate.ts');
  const summary = await simulate({
    url: values.url!,
    voters: positiveInt(values.voters, 'voters', 200),
    polls: positiveInt(values.polls, 'polls', 1),
    concurrency: positiveInt(values.concurrency, 'concurrency', 16),
    maxDelayMs: delay === undefined ? 100 : Number(delay),
    adminUsername: values.admin!,
    adminPassword: password,
    close: !values['keep-open'],
    ...(values.json ? {} : { onProgress: (line: string) => io.err(`simulate: ${line}\n`) }),
  });
  if (values.json) {
    io.out(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const lines = [
      `${summary.ok ? 'OK' : 'FAILED'}: ${summary.voters} voters, ${summary.tokens_issued} tokens, ${summary.ballots_accepted} ballots, ${summary.receipts_verified} receipts verified`,
      `  time: setup ${summary.seconds.setup.toFixed(1)} s, issue ${summary.seconds.issue.toFixed(1)} s, vote ${summary.seconds.vote.toFixed(1)} s, close+audit ${summary.seconds.close_and_audit.toFixed(1)} s`,
      `  ballot latency: p50 ${summary.ballot_latency_ms.p50.toFixed(1)} ms, p99 ${summary.ballot_latency_ms.p99.toFixed(1)} ms`,
      ...summary.polls.map((p) => `  ${p.poll_id}: ${p.ballots} ballots, tally ${p.tally === null ? 'not taken' : p.tally_matches ? 'matches' : `DIFFERS (${JSON.stringify(p.tally)} vs ${JSON.stringify(p.expected)})`}, audit ${p.audit_ok === null ? 'not run' : p.audit_ok ? 'passed' : `FAILED: ${p.failed_checks.map((c) => `${c.check}: ${c.detail}`).join('; ')}`}\n    ${p.board}`),
      ...summary.errors.slice(0, 10).map((e) => `  error: ${e}`),
    ];
    io.out(`${lines.join('\n')}\n`);
  }
  return summary.ok ? 0 : 1;
}

function keysCommand(argv: string[], io: Io): number {
  const { values } = parseArgs({ args: argv, options: { name: { type: 'string', default: 'localhost' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    io.out(KEYS_HELP);
    return 0;
  }
  const board = generateSignerKey(values.name!);
  const acceptance = generateSignerKey(`${values.name!}/acceptance`);
  io.out(`BLINDVOTE_BOARD_SIGNER_KEY=${board.signerKey}\nBLINDVOTE_BOARD_KEY=${board.verifierKey}\nBLINDVOTE_ACCEPTANCE_SIGNER_KEY=${acceptance.signerKey}\n`);
  return 0;
}

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest, io);
      case 'simulate':
        return await simulateCommand(rest, io);
      case 'keys':
        return keysCommand(rest, io);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(HELP);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; see blindvote --help`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`blindvote: ${(err as Error).message}\n`);
      return 2;
    }
    io.err(`blindvote: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
