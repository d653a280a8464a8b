/** Open and upcoming polls (and closed ones, for their results). */
import { useEffect, useState } from 'preact/hooks';
import { call, errorText } from '../api.ts';
import type { PollSummary } from '../api.ts';
import { ErrorLine, STATE_LABEL, Status, when } from './common.tsx';

export function PollList() {
  const [polls, setPolls] = useState<PollSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call<{ polls: PollSummary[] }>('GET', '/v1/polls').then((r) => setPolls(r.polls.filter((p) => p.state !== 'draft')), (err) => setError(errorText(err)));
  }, []);
  const order = { open: 0, upcoming: 1, closed: 2, draft: 3 };
  return (
    <section aria-labelledby="polls-title">
      <h1 id="polls-title">Polls</h1>
      <ErrorLine error={error} />
      {polls === null && error === null && <Status>Loading polls…</Status>}
      {polls !== null && polls.length === 0 && <p>No polls yet.</p>}
      <ul class="plain">
        {[...(polls ?? [])].sort((a, b) => order[a.state] - order[b.state]).map((p) => (
          <li class="card" key={p.poll_id}>
            <h2>{p.title}</h2>
            <p><span class={`badge ${p.state}`}>{STATE_LABEL[p.state]}</span> {p.state === 'upcoming' ? `opens ${when(p.opens_at)}` : `closes ${when(p.closes_at)}`}{p.results === 'sealed' ? ' · results sealed until close' : ''}</p>
            <div class="row">
              {p.state !== 'closed' && <a class="button" href={`/vote/${p.poll_id}`}>{p.state === 'open' ? 'Vote' : 'Get ready'}<span class="sr-only"> in {p.title}</span></a>}
              <a class="button secondary" href={`/results/${p.poll_id}`}>Results<span class="sr-only"> of {p.title}</span></a>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
