/** A receipt: what the checks found, said plainly, and a JSON download. */
import type { ReceiptCheck, ReceiptJSON } from '@blindvote/crypto';
import type { AcceptanceCheck } from '../store.ts';

const CHECK_LABEL: Record<string, string> = {
  'board-key': 'Board key is well-formed',
  ballot: 'Ballot is valid for this poll',
  'token-signature': "Token carries the poll's signature",
  'board-url': 'Board address names this poll',
  'leaf-hash': 'Receipt is for exactly your ballot',
  'checkpoint-signature': "Checkpoint is signed by the poll's board",
  'checkpoint-origin': 'Checkpoint belongs to this board',
  'leaf-index': 'Ballot position is inside the signed tree',
  'inclusion-proof': 'Inclusion proof leads to the signed root',
};

export function downloadName(r: ReceiptJSON): string {
  return `blindvote-receipt-${r.poll_id}-${r.leaf_index}.json`;
}

export function ReceiptView(props: { receipt: ReceiptJSON; checks: readonly ReceiptCheck[]; valid: boolean; acceptance?: AcceptanceCheck | undefined }) {
  const { receipt, checks, valid, acceptance } = props;
  const href = `data:application/json;charset=utf-8,${encodeURIComponent(JSON.stringify(receipt, null, 2))}`;
  return (
    <section class="card receipt" aria-labelledby="receipt-title">
      <h2 id="receipt-title">Your receipt</h2>
      {valid
        ? <p class="ok" role="status" data-testid="receipt-verdict">Verified in your browser: your ballot is entry {receipt.leaf_index} on the board, and the board signed it.</p>
        : <p class="error" role="alert" data-testid="receipt-verdict">This receipt did NOT verify. Keep it (download it below) and report it to the poll's organiser.</p>}
      <ul class="checks">
        {checks.map((c) => (
          <li key={c.check} class={c.ok ? 'ok' : 'bad'}><span aria-hidden="true">{c.ok ? '✓' : '✗'}</span> {CHECK_LABEL[c.check] ?? c.check}<span class="sr-only">: {c.ok ? 'passed' : 'failed'}</span>{c.ok ? null : <span class="detail"> — {c.detail}</span>}</li>
        ))}
      </ul>
      {acceptance !== undefined && (acceptance.ok
        ? <p data-testid="acceptance">The ballot box first answered with a signed acceptance, kept with your receipt: {acceptance.detail}.</p>
        : <p class="error" role="alert" data-testid="acceptance">The ballot box's signed acceptance did not check out: {acceptance.detail}. It is kept with your receipt as evidence; report it to the poll's organiser.</p>)}
      <dl class="facts">
        <dt>Entry</dt><dd data-testid="leaf-index">{receipt.leaf_index}</dd>
        <dt>Leaf hash</dt><dd class="mono" data-testid="leaf-hash">{receipt.leaf_hash}</dd>
        <dt>Your choice</dt><dd>{receipt.ballot.choice.join(', ')}</dd>
      </dl>
      <div class="row">
        <a class="button" href={href} download={downloadName(receipt)}>Download receipt (JSON)</a>
        <a class="button secondary" href="/receipts">All my receipts</a>
      </div>
      <p class="hint">Anyone can check it: <code>npx blindvote-verify receipt {downloadName(receipt)} --board {receipt.board}</code></p>
    </section>
  );
}
