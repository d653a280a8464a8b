import { sha256, utf8 } from '@blindvote/crypto';

/** Entry n and its token id, as the crash test's child process appends them. */
export const crashEntry = (n: number): Uint8Array => utf8(`{"type":"ballot","n":${n},"pad":"${'x'.repeat(n % 97)}"}`);
export const crashToken = (n: number): Uint8Array => sha256(utf8(`crash token ${n}`));
