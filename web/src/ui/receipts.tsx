/** The receipts kept in this browser, each re-checkable against the board's newest checkpoint. */
import { useState } from 'preact/hooks';
import { errorText } from '../api.ts';
import { receipts } from '../store.ts';
import { recheckReceipt } from '../vote.ts';
import type { RecheckResult } from '../vote.ts';
import { downloadName } from './receipt.tsx';

export function ReceiptsPage() {
  const [results, setResults] = useState<Record<string, RecheckResult | string>>({});
  const kept = receipts();
  const recheck = async (key: string, index: number) => {
    setResults((r) => ({ ...r, [key]: 'Checking…' }));
    try {
      const res = await recheckReceipt(kept[index]!);
      setResults((r) => ({ ...r, [key]: res }));
    } catch (err) {
      setResults((r) => ({ ...r, [key]: errorText(err) }));
    }
  };
  return (
    <section aria-labelledby="receipts-title">
      <h1 id="receipts-title">My receipts</h1>
      <p>Kept in this browser only. Download them to keep them elsewhere.</p>
      {kept.length === 0 && <p>No receipts yet.</p>}
      <ul class="plain">
        {kept.map((s, i) => {
          const key = `${s.receipt.poll_id}/${s.receipt.leaf_index}`;
          const res = results[key];
          const href = `data:application/json;charset=utf-8,${encodeURIComponent(JSON.stringify(s.receipt, null, 2))}`;
          return (
            <li class="card" key={key}>
              <h2>{s.title}</h2>
              <p>Entry {s.receipt.leaf_index} · choice {s.receipt.ballot.choice.join(', ')} · {s.checked_size !== undefined ? `last found consistent with ${s.checked_size} entries` : 'verified when cast'}</p>
              {s.acceptance !== undefined && <p class={s.acceptance.ok ? undefined : 'error'}>The ballot box's signed acceptance {s.acceptance.ok ? 'is kept too' : 'did not check out and is kept as evidence'}: {s.acceptance.detail}.</p>}
              <div class="row">
                <button type="button" onClick={() => void recheck(key, i)}>Re-check against the newest checkpoint<span class="sr-only"> ({s.title})</span></button>
                <a class="button secondary" href={href} download={downloadName(s.receipt)}>Download<span class="sr-only"> receipt for {s.title}</span></a>
              </div>
              {res !== undefined && (typeof res === 'string'
                ? <p role="status">{res}</p>
                : <p class={res.ok ? 'ok' : 'error'} role="status" data-testid="recheck">{res.detail}</p>)}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
