/**
 * Test support: a PRIVATE PostgreSQL server for chaos tests that SIGKILL and restart it. The
 * shared server on 127.0.0.1:5432 (BLINDVOTE_TEST_PG_URL) MUST NOT be killed: other tests use
 * it at the same time.
 *
 * `startTestPostgres()` runs initdb once (into a new temp directory) and starts the server on a
 * free port of 127.0.0.1, trust authentication, `fsync=on` and `synchronous_commit=on` (what the
 * chaos tests check is durability), small `shared_buffers`, its unix socket inside the data
 * directory. The binaries are those of the newest /usr/lib/postgresql/<version>/bin (as
 * scripts/start-services.sh picks the version). initdb and postgres refuse to run as root: under
 * root they run as the `postgres` OS user (runuser), on a temp directory it owns.
 *
 * `kill()` is a crash: SIGKILL of the postmaster (its pid read from postmaster.pid) and, in the
 * same instant, of its children, the backends (as when a container or a machine dies: nothing is
 * flushed, nothing is shut down, no backend answers its client). The next start runs crash
 * recovery from the WAL.
 * A test process that exits without `stop()` MUST NOT leave a server behind (exit hook).
 */
import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';

export interface TestPostgres {
  /** A superuser URL (user `postgres`, trust), as BLINDVOTE_TEST_PG_URL would name one. */
  readonly adminUrl: string;
  /** SIGKILLs the postmaster and its backends; resolves once none is left. */
  kill(): Promise<void>;
  /** Starts again on the same port and data directory (crash recovery); resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stops the server (fast shutdown, or SIGKILL) and deletes its directory. */
  stop(): Promise<void>;
}

export interface TestPostgresOptions {
  /** How long one start (recovery included) may take. Default 60 s. */
  readonly startTimeoutMs?: number;
}

const LIB = '/usr/lib/postgresql';
/** util-linux's runuser, found by path: CI's PATH may leave out the sbin directories. */
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((f) => existsSync(f)) ?? 'runuser';

/** The newest installed version's bin directory. */
function binDir(): string {
  const versions = existsSync(LIB) ? readdirSync(LIB).filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(LIB, v, 'bin', 'pg_ctl'))) : [];
  versions.sort((a, b) => Number(a) - Number(b));
  const newest = versions.at(-1);
  if (newest === undefined) throw new Error(`test PostgreSQL: no ${LIB}/<version>/bin/pg_ctl (apt-get install postgresql)`);
  return join(LIB, newest, 'bin');
}

/** The uid and gid of the `postgres` OS user, needed when the test runs as root. */
function postgresUser(): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error('test PostgreSQL: running as root needs a `postgres` OS user to run initdb and postgres as (the postgresql package creates it)');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** True while `pid` runs (a zombie, dead and not yet reaped by init, does not). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** True while `pid` exists, zombie or not (kill(pid, 0), as postgres checks postmaster.pid). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** Starts a private server (see the module doc); `stop()` it in an after hook. */
export async function startTestPostgres(options: TestPostgresOptions = {}): Promise<TestPostgres> {
  const bin = binDir();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-pg-'));
  if (root) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const port = await freePort();
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;

  /** Runs a PostgreSQL program as the data directory's owner. */
  const run = (program: string, args: readonly string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const [file, argv] = root ? [RUNUSER, ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), [...args]];
      execFile(file, argv, { cwd: dir, timeout: timeoutMs + 10_000, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
        if (error === null) resolve();
        else reject(new Error(`test PostgreSQL: ${program} ${args.join(' ')} failed (${error.message}):\n${stdout}${stderr}\n--- ${log}\n${logTail()}`));
      });
    });
  const logTail = () => {
    try {
      return readFileSync(log, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no log)';
    }
  };
  /** The postmaster's pid (first line of postmaster.pid), or null when there is none. */
  const postmaster = (): number | null => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  };
  /**
   * SIGKILL to the postmaster and every child of it, stopped first so it forks no backend in
   * between (its children run in sessions of their own: no process group reaches them all).
   * Returns the pids killed.
   */
  const crash = (): number[] => {
    const pid = postmaster();
    if (pid === null || !alive(pid)) return [];
    signal(pid, 'SIGSTOP');
    const children = childrenOf(pid);
    // The children first: while the postmaster is stopped, none of them can see it die first.
    for (const p of children) signal(p, 'SIGKILL');
    signal(pid, 'SIGKILL');
    return [pid, ...children];
  };
  const orphan = () => {
    crash();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', orphan);

  const start = async () => {
    // -w: pg_ctl returns once the server accepts connections (crash recovery done).
    await run('pg_ctl', ['start', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), '-D', data, '-l', log]);
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.end();
  };
  let killed: number | null = null;
  const kill = async () => {
    const pids = crash();
    killed = pids[0] ?? killed;
    const deadline = Date.now() + 10_000;
    while (pids.some(alive)) {
      if (Date.now() > deadline) throw new Error(`test PostgreSQL: processes ${pids.filter(alive).join(', ')} still alive 10 s after SIGKILL`);
      await sleep(20);
    }
  };
  /**
   * A start MUST wait until init has reaped the killed postmaster: postgres refuses a data
   * directory whose postmaster.pid names a process that still exists, zombie or not.
   */
  const reaped = async () => {
    const pid = killed;
    if (pid === null) return;
    const deadline = Date.now() + 30_000;
    while (exists(pid)) {
      if (Date.now() > deadline) throw new Error(`test PostgreSQL: the killed postmaster ${pid} is still not reaped after 30 s (is init reaping zombies?)`);
      await sleep(20);
    }
    killed = null;
  };

  try {
    // --no-sync for initdb only: what is tested is the server's durability, not initdb's.
    await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        '',
        '# blindvote test server (server/src/testing/postgres-server.ts)',
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${data}'`,
        'fsync = on',
        'synchronous_commit = on',
        'full_page_writes = on',
        'shared_buffers = 32MB',
        'max_connections = 200',
        '',
      ].join('\n'),
    );
    await start();
  } catch (error) {
    process.removeListener('exit', orphan);
    orphan();
    throw error;
  }

  return {
    adminUrl,
    kill,
    restart: async () => {
      await kill();
      await reaped();
      await start();
    },
    stop: async () => {
      process.removeListener('exit', orphan);
      const pid = postmaster();
      if (pid !== null && alive(pid)) await run('pg_ctl', ['stop', '-w', '-m', 'fast', '-t', '30', '-D', data]).catch(() => kill());
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
