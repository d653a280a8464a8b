/**
 * Fastify's schema validation failures, said the way crypto/ says format errors: the field path
 * as `ballot.token.sig` or `ballot.choice[1]` (`jsonPath`), then what is wrong. One problem per
 * reply, the first one found.
 */
import { jsonPath } from '@blindvote/crypto';
import type { FastifySchemaValidationError } from 'fastify';
import { BallotMalformed } from './errors.ts';

/** JSON Pointer (RFC 6901) → field path under `root`. */
function fieldPath(root: string, pointer: string): string {
  if (pointer === '') return root;
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<string>((path, key) => jsonPath(path, /^(?:0|[1-9][0-9]*)$/.test(key) ? Number(key) : key), root);
}

const A: Record<string, string> = { object: 'an object', array: 'an array', integer: 'an integer' };

function describeError(root: string, e: FastifySchemaValidationError): string | null {
  const path = fieldPath(root, e.instancePath);
  const params = e.params;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = params['additionalProperties'];
      return `${Array.isArray(extra) && typeof extra[0] === 'string' ? jsonPath(path, extra[0]) : path}: unknown field`;
    }
    case 'boolean':
      return null; // "schema is false": the parent's additionalProperties error says it better
    case 'required': {
      const missing = params['requiredProperties'] ?? params['missingProperty'];
      const names = (Array.isArray(missing) ? missing : [missing]).map((n) => `"${String(n)}"`);
      return `${path}: missing field${names.length > 1 ? 's' : ''} ${names.join(', ')}`;
    }
    case 'type': {
      const type = String(params['type']);
      return `${path}: expected ${A[type] ?? `a ${type}`}`;
    }
    case 'const':
      return `${path}: must be ${JSON.stringify(params['allowedValue'] ?? params['allowedValues'])}`;
    default:
      return `${path}: ${e.message ?? e.keyword}`;
  }
}

/** Route `schemaErrorFormatter`: the body is the ballot; other parts keep their own name. */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const root = dataVar === 'body' ? 'ballot' : dataVar;
  const message = errors.map((e) => describeError(root, e)).find((m) => m !== null) ?? `${root}: does not match its schema`;
  return new BallotMalformed(message);
}
