/** Live results of one poll: a bar chart that follows the board, then the verified final tally. */
import { useEffect, useState } from 'preact/hooks';
import { call, errorText } from '../api.ts';
import type { PollDetail, ResultsSnapshot } from '../api.ts';
import { checkFinalTally, followResults } from '../results.ts';
import { boardManifest } from '../vote.ts';
import type { TallyCheck, Transport } from '../results.ts';
import { ErrorLine, STATE_LABEL, Status } from './common.tsx';

export function Bars(props: { options: { id: string; label: string }[]; counts: Record<string, number> }) {
  const max = Math.max(1, ...props.options.map((o) => props.counts[o.id] ?? 0));
  return (
    <ul class="bars" aria-label="Votes per option">
      {props.options.map((o) => {
        const n = props.counts[o.id] ?? 0;
        return (
          <li key={o.id} data-option={o.id}>
            <span class="bar-label">{o.label}</span>
            <span class="bar-track" aria-hidden="true"><span class="bar-fill" style={{ width: `${(100 * n) / max}%` }} /></span>
            <span class="bar-count" data-testid={`count-${o.id}`}>{n}</span>
          </li>
        );
      })}
    </ul>
  );
}

export function ResultsPage(props: { pollId: string }) {
  const [detail, setDetail] = useState<PollDetail | null>(null);
  const [snap, setSnap] = useState<ResultsSnapshot | null>(null);
  const [transport, setTransport] = useState<Transport>('connecting');
  const [check, setCheck] = useState<TallyCheck | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    call<PollDetail>('GET', `/v1/polls/${props.pollId}`).then(setDetail, (err) => setError(errorText(err)));
    call<ResultsSnapshot>('GET', `/v1/results/${props.pollId}`, { auth: false }).then(setSnap, (err) => setError(errorText(err)));
    return followResults(props.pollId, setSnap, setTransport);
  }, [props.pollId]);

  const final = snap?.final ?? null;
  useEffect(() => {
    if (final === null || detail?.manifest === undefined || detail.board === null) return;
    void boardManifest(detail.board, detail.manifest).then((poll) => checkFinalTally(final, detail.board!, poll.board_key)).then(setCheck, (err) => setError(errorText(err)));
  }, [final?.checkpoint, detail?.board]);

  if (detail === null || snap === null) return <section><h1>Results</h1><ErrorLine error={error} />{error === null && <Status>Loading results…</Status>}</section>;
  const counts = final?.tally.counts ?? snap.counts;
  return (
    <section aria-labelledby="results-title">
      <h1 id="results-title">Results: {detail.title}</h1>
      <p><span class={`badge ${detail.state}`}>{STATE_LABEL[detail.state]}</span> <span class="muted">{transport === 'connecting' ? 'connecting…' : `live over ${transport === 'websocket' ? 'WebSocket' : 'Server-Sent Events'}`}</span></p>
      <div class="card" aria-live="polite">
        <p data-testid="turnout"><strong>{snap.ballots}</strong> ballots on the board · counts refer to the signed tree of <strong data-testid="tree-size">{snap.tree_size}</strong> entries{snap.ballots_rejected ? ` · ${snap.ballots_rejected} rejected` : ''}</p>
        {counts !== null
          ? <Bars options={detail.options} counts={counts} />
          : <p>Results are sealed until the poll closes: only the turnout is shown.</p>}
      </div>
      {final !== null && (
        <div class="card">
          <h2>Final tally</h2>
          {check === null ? <Status>Checking the tally in your browser…</Status> : <p class={check.ok ? 'ok' : 'error'} role="status" data-testid="tally-verdict">{check.detail}</p>}
        </div>
      )}
      {snap.state === 'error' && <p class="error" role="alert">The tallier could not count this poll: {snap.error ?? 'see the service log'}. Audit the board with the command below.</p>}
      {detail.board !== null && (
        <p class="hint">Board: <a href={`${detail.board}/checkpoint`}>{detail.board}</a> · audit it yourself: <code>npx blindvote-verify audit {detail.board}</code></p>
      )}
    </section>
  );
}
