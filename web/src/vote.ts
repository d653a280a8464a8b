/**
 * The voter's protocol steps in the browser (DESIGN.md "The protocol in one picture"):
 * token (blind, persist, request, finalize), ballot (persist, wait, cast without credentials),
 * receipt (verify, keep), and later re-checks against the board's newest checkpoint.
 */
import {
  Acceptance, Ballot, BlindingState, Poll, Receipt, TokenClient, VerifierKey, decodeBundle, equalBytes, fromBase64, leafHash, openCheckpoint, receiptValid, toBase64,
  verifyConsistency, verifyReceipt,
} from '@blindvote/crypto';
import type { ReceiptCheck, ReceiptJSON, Token } from '@blindvote/crypto';
import { ApiError, BALLOT_BOX_URL, call, read } from './api.ts';
import { forgetVoteProgress, saveReceipt, setVoteProgress, voteProgress } from './store.ts';
import type { AcceptanceCheck, StoredReceipt } from './store.ts';

/**
 * The voter's token for `poll`. The blinding state is persisted BEFORE the blinded message is
 * sent, so a reload or retry re-sends the same blinded message and the issuer answers with the
 * same blind signature (promise 1); a fresh blinding after an issued token would get a 409.
 */
export async function obtainToken(account: string, poll: Poll): Promise<Token> {
  const client = await TokenClient.create(poll.token_key.spki, poll.poll_id);
  let progress = voteProgress(account, poll.poll_id);
  if (progress === null) {
    const state = await client.blind();
    progress = { blinding: state.toJSON() };
    setVoteProgress(account, poll.poll_id, progress);
  }
  const state = BlindingState.fromJSON(progress.blinding);
  let blindSig = progress.blind_sig;
  if (blindSig === undefined) {
    const reply = await call<{ blind_sig: string }>('POST', `/v1/polls/${poll.poll_id}/tokens`, { body: { blinded_msg: toBase64(state.blindedMsg) } });
    blindSig = reply.blind_sig;
    setVoteProgress(account, poll.poll_id, { ...progress, blind_sig: blindSig });
  }
  return client.finalize(state, fromBase64(blindSig, 'blind_sig'));
}

export interface CastResult {
  readonly receipt: Receipt;
  readonly checks: ReceiptCheck[];
  readonly valid: boolean;
  /** The ballot box's signed acceptance, when it first answered 202, and what checking it found. */
  readonly acceptance?: AcceptanceCheck;
}

/** A short random wait before casting, so the ballot's arrival is not timed to the token request. */
export function castDelayMs(): number {
  return 400 + Math.floor(Math.random() * 1200);
}

/**
 * Casts the ballot (or the one already stored for this poll: a retry MUST send the same bytes,
 * so the ballot box answers with the original receipt), verifies the receipt against the
 * manifest, keeps it, and deletes the blinding state once the receipt verified.
 */
export async function castBallot(account: string, poll: Poll, token: Token, choice: readonly string[], delayMs: number): Promise<CastResult> {
  const progress = voteProgress(account, poll.poll_id);
  let ballotJson = progress?.ballot;
  if (ballotJson === undefined) {
    ballotJson = new Ballot({ poll_id: poll.poll_id, token, choice: [...choice] }).toJSON();
    if (progress !== null) setVoteProgress(account, poll.poll_id, { ...progress, ballot: ballotJson });
  }
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  let response: Response;
  try {
    // No cookie, no Authorization header (DESIGN.md promise 5): the ballot box must not learn who.
    response = await fetch(`${BALLOT_BOX_URL}/v1/ballots`, {
      method: 'POST',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ballotJson),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The connection dropped while your ballot was being sent. It may have been recorded: press "Retry" — the same ballot is sent again and you get its receipt either way.');
  }
  let answer = await read<ReceiptJSON | Accepted>(response);
  let acceptanceCheck: AcceptanceCheck | undefined;
  if (response.status === 202) {
    const accepted = answer as Accepted;
    // Kept before waiting: after a reload or a retry it still goes beside the receipt.
    // The first acceptance is the one whose deadline counts: a later 202 does not replace it.
    const now = voteProgress(account, poll.poll_id);
    const first = now?.acceptance ?? accepted.acceptance;
    if (now !== null && now.acceptance === undefined) setVoteProgress(account, poll.poll_id, { ...now, acceptance: first });
    acceptanceCheck = await checkAcceptance(first, poll, ballotJson);
    answer = await awaitDecision(accepted, ballotJson, acceptanceCheck);
  } else if (progress?.acceptance !== undefined) {
    acceptanceCheck = await checkAcceptance(progress.acceptance, poll, ballotJson);
  }
  const receipt = Receipt.fromJSON(answer as ReceiptJSON);
  const checks = await verifyReceipt(receipt, poll);
  const valid = receiptValid(checks);
  const acceptance = acceptanceCheck === undefined ? {} : { acceptance: acceptanceCheck };
  if (valid) {
    saveReceipt({ receipt: receipt.toJSON(), board_key: poll.board_key, title: poll.title, saved_at: new Date().toISOString(), ...acceptance });
    forgetVoteProgress(account, poll.poll_id);
  }
  return { receipt, checks, valid, ...acceptance };
}

/**
 * The ballot box's signed acceptance (crypto's Acceptance, a C2SP note), checked: signed under the
 * key the ballot box serves (`/v1/ballots/acceptance-key`; evidence only as far as that key was
 * published beforehand, SECURITY.md), and naming this poll and exactly this ballot (the RFC 9162
 * leaf hash of its entry). Kept either way: a good one shows when the board had to show the
 * ballot; a bad one is evidence against the ballot box.
 */
export async function checkAcceptance(note: string, poll: Poll, ballotJson: unknown): Promise<AcceptanceCheck> {
  try {
    const keyResponse = await fetch(`${BALLOT_BOX_URL}/v1/ballots/acceptance-key`, {
      credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store', signal: AbortSignal.timeout(10_000),
    });
    if (!keyResponse.ok) return { note, ok: false, detail: `the ballot box did not give the key to check it with (HTTP ${keyResponse.status})` };
    const key = (await keyResponse.text()).trim();
    const verifier = new VerifierKey(key);
    const accepted = Acceptance.open(note, verifier);
    if (accepted.poll_id !== poll.poll_id) return { note, key, ok: false, detail: `it names poll "${accepted.poll_id}", not this one` };
    if (!equalBytes(accepted.leaf_hash, leafHash(Ballot.fromJSON(ballotJson).serialize()))) return { note, key, ok: false, detail: 'it names another ballot (its leaf hash is not your ballot\'s)' };
    const due = new Date(Date.parse(accepted.accepted_at) + accepted.max_merge_delay * 1000);
    return { note, key, ok: true, detail: `signed at ${accepted.accepted_at} under the key this ballot box serves (${verifier.name}): your ballot had to be on the board by ${due.toISOString().slice(0, 19)}Z` };
  } catch (err) {
    return { note, ok: false, detail: `it does not verify: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** A 202 from a distributed ballot box: durable, on the board within `max_merge_delay` seconds. */
interface Accepted {
  readonly acceptance: string;
  readonly max_merge_delay: number;
}

/**
 * After a 202: resubmits the identical ballot once a second until the board decided (its receipt,
 * or a refusal the caller shows), within the promised merge delay.
 */
async function awaitDecision(accepted: Accepted, ballotJson: unknown, check: AcceptanceCheck): Promise<ReceiptJSON> {
  const deadline = Date.now() + (accepted.max_merge_delay + 5) * 1000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const response = await fetch(`${BALLOT_BOX_URL}/v1/ballots`, {
      method: 'POST',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ballotJson),
    }).catch(() => null);
    if (response === null || response.status === 202) continue;
    return read<ReceiptJSON>(response);
  }
  const said = check.ok
    ? 'Your ballot was accepted (the ballot box signed that it will be on the board, and that acceptance is kept in this browser)'
    : `The ballot box answered that it accepted your ballot, but its signed acceptance did not check out (${check.detail}; it is kept in this browser as evidence)`;
  throw new ApiError(0, 'PENDING', `${said}, and the board does not show it yet. Press "Retry" later: the same ballot is sent again and you get its receipt.`);
}

export interface RecheckResult {
  readonly ok: boolean;
  readonly size: number;
  readonly detail: string;
}

/**
 * Re-checks a kept receipt against the board's newest checkpoint: signed by the same board key,
 * same origin, and consistent with the receipt's checkpoint (RFC 9162 §2.1.4 proof), so the
 * ballot is still in the tree everyone sees (promise 4).
 */
export async function recheckReceipt(stored: StoredReceipt): Promise<RecheckResult> {
  const receipt = Receipt.fromJSON(stored.receipt);
  const base = new URL(receipt.board);
  const note = await fetch(`${receipt.board}/checkpoint`, { credentials: 'omit', cache: 'no-store' });
  if (!note.ok) throw new ApiError(note.status, '', `The board did not answer with its checkpoint (${note.status}); try again later.`);
  const latest = openCheckpoint(await note.text(), [stored.board_key], receipt.origin).checkpoint;
  const old = openCheckpoint(receipt.checkpoint, [stored.board_key], receipt.origin).checkpoint;
  if (latest.size < old.size) return { ok: false, size: latest.size, detail: `The board's newest checkpoint (size ${latest.size}) is smaller than your receipt's (${old.size}): the board rolled back. Keep your receipt and report this.` };
  if (latest.size > old.size) {
    const url = new URL(`/v1/board/${receipt.poll_id}/proof/consistency?from=${old.size}&to=${latest.size}`, base);
    const proof = await read<{ consistency_proof: string[] }>(await fetch(url, { credentials: 'omit', cache: 'no-store' }));
    try {
      verifyConsistency(old.size, latest.size, proof.consistency_proof.map((h, i) => fromBase64(h, `consistency_proof[${i}]`)), old.root, latest.root);
    } catch (err) {
      return { ok: false, size: latest.size, detail: `The board's newest checkpoint is NOT consistent with your receipt (${(err as Error).message}). Keep your receipt and report this: it proves the board changed its history.` };
    }
  } else if (toBase64(latest.root) !== toBase64(old.root)) {
    return { ok: false, size: latest.size, detail: 'The board signed two different trees of the same size. Keep your receipt and report this.' };
  }
  saveReceipt({ ...stored, checked_size: latest.size, checked_at: new Date().toISOString() });
  return { ok: true, size: latest.size, detail: `Still on the board: the newest checkpoint (${latest.size} entries) is signed by the board key and consistent with your receipt (${old.size} entries).` };
}

/**
 * The poll manifest as the board publishes it to everyone (entry 0, `tile/entries/000.p/1`, read
 * without credentials), checked byte for byte against the one the issuer showed this signed-in
 * voter. Key consistency (DESIGN.md promise 5): the issuer knows who asks, so a token key or board
 * key taken from it alone could be one made for this voter.
 */
export async function boardManifest(board: string, fromIssuer: unknown): Promise<Poll> {
  let response = await fetch(`${board}/tile/entries/000.p/1`, { credentials: 'omit', referrerPolicy: 'no-referrer' });
  if (response.status === 404) response = await fetch(`${board}/tile/entries/000`, { credentials: 'omit', referrerPolicy: 'no-referrer' });
  if (!response.ok) throw new Error(`The board did not give the poll's manifest (${response.status}); try again later.`);
  const entry0 = decodeBundle(new Uint8Array(await response.arrayBuffer()))[0];
  if (entry0 === undefined) throw new Error("The board's first entry is missing; try again later.");
  const poll = Poll.deserialize(entry0, 'board entry 0');
  if (!equalBytes(poll.serialize(), Poll.fromJSON(fromIssuer).serialize())) {
    throw new Error("The issuer showed you a different poll manifest (keys) than the board shows everyone. Do not vote; report this to the election's organisers.");
  }
  return poll;
}
