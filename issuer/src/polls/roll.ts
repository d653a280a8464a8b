/**
 * Voter rolls: the account ids eligible in a poll, imported as a JSON list or as CSV, and the
 * commitment the manifest publishes.
 *
 * Commitment (manifest `roll.commitment`):
 *
 *   SHA-256( "blindvote/roll/v1" 0x00 salt 0x00 JCS(ids) )
 *
 * where salt is 32 random bytes chosen at import and kept by the issuer, and JCS(ids) is the
 * RFC 8785 canonical JSON of the distinct account ids in ascending order (ids are ASCII, so that
 * is their byte order). The salt stops anyone holding the manifest from testing guesses ("is
 * alice on the roll?"); the issuer opens the commitment to an auditor by handing over the ids and
 * the salt.
 */
import { canonicalBytes, sha256, utf8 } from '@blindvote/crypto';
import { accountIdProblem } from '../auth/account-id.ts';

export const ROLL_DOMAIN = 'blindvote/roll/v1';
export const ROLL_SALT_LENGTH = 32;
/** Longest value echoed back in a row error. */
const MAX_ECHO = 100;

export interface RollRowError {
  /** 1-based: the n-th element of `voters`, or the line number of the CSV. */
  readonly row: number;
  readonly value: string;
  readonly error: string;
}

export interface ParsedRoll {
  /** Distinct valid account ids, ascending. */
  readonly accountIds: string[];
  /** Rows left out, in row order. */
  readonly errors: RollRowError[];
}

export function rollCommitment(salt: Uint8Array, sortedIds: readonly string[]): Uint8Array {
  return sha256(utf8(ROLL_DOMAIN), Uint8Array.of(0), salt, Uint8Array.of(0), canonicalBytes([...sortedIds], 'roll'));
}

/** Account ids given with their row numbers → valid distinct ids and an error per rejected row. */
function collect(rows: Iterable<{ row: number; value: string; error?: string }>): ParsedRoll {
  const firstRow = new Map<string, number>();
  const errors: RollRowError[] = [];
  for (const { row, value, error } of rows) {
    const problem = error ?? accountIdProblem(value) ?? (firstRow.has(value) ? `duplicate of row ${firstRow.get(value)}` : null);
    if (problem !== null) {
      errors.push({ row, value: value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}…` : value, error: problem });
    } else {
      firstRow.set(value, row);
    }
  }
  return { accountIds: [...firstRow.keys()].sort(), errors };
}

/** `{"voters": [...]}`: each element an account id, taken as is (no trimming). */
export function parseRollList(voters: readonly string[]): ParsedRoll {
  return collect(voters.map((value, i) => ({ row: i + 1, value })));
}

/**
 * `text/csv`: one account id per line (LF or CRLF), optionally in double quotes (RFC 4180 `""`
 * escapes), surrounding spaces ignored, blank lines skipped; an optional first line `account`
 * is a header. A line with more than one column is a row error.
 */
export function parseRollCsv(text: string): ParsedRoll {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  return collect(
    (function* () {
      for (let i = 0; i < lines.length; i++) {
        const raw = lines[i]!.trim();
        if (raw === '') continue;
        const value = csvField(raw);
        if (i === 0 && value?.toLowerCase() === 'account') continue;
        yield value === null ? { row: i + 1, value: raw, error: 'expected one column: one account id per row' } : { row: i + 1, value };
      }
    })(),
  );
}

/** One CSV field (quoted or not) that is the whole line, or null when the line has more. */
function csvField(line: string): string | null {
  if (line.startsWith('"')) {
    const m = /^"((?:[^"]|"")*)"$/.exec(line);
    return m === null ? null : m[1]!.replaceAll('""', '"');
  }
  return /[",]/.test(line) ? null : line;
}
