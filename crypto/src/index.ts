/**
 * @blindvote/crypto: formats, hashes, signatures and proofs. Pure functions, no I/O; runs in
 * Node and browsers. The issuer's native BlindSign is Node-only: `@blindvote/crypto/issuer`.
 */
export * from './bytes.ts';
export { sha256, randomBytes } from '#platform';
export * from './jcs.ts';
export { jsonPath } from './validate.ts';
export * from './merkle.ts';
export * from './tiles.ts';
export * from './note.ts';
export * from './checkpoint.ts';
export * from './token.ts';
export * from './entries.ts';
export * from './receipt.ts';
export * from './recount.ts';
export * from './acceptance.ts';
