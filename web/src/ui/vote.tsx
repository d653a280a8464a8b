/** The voter's page for one poll: token, choice, cast, receipt. */
import { useEffect, useState } from 'preact/hooks';
import { Poll } from '@blindvote/crypto';
import type { ReceiptJSON, Token } from '@blindvote/crypto';
import { call, errorText } from '../api.ts';
import type { PollDetail } from '../api.ts';
import { receipts, session, voteProgress } from '../store.ts';
import { boardManifest, castBallot, castDelayMs, obtainToken } from '../vote.ts';
import type { CastResult } from '../vote.ts';
import { ErrorLine, STATE_LABEL, Status, when } from './common.tsx';
import { ReceiptView } from './receipt.tsx';

type Phase = 'idle' | 'token' | 'waiting' | 'sending';

export function VotePage(props: { pollId: string }) {
  const me = session();
  const [detail, setDetail] = useState<PollDetail | null>(null);
  const [poll, setPoll] = useState<Poll | null>(null);
  const [token, setToken] = useState<Token | null>(null);
  const [choice, setChoice] = useState<string[]>([]);
  const [phase, setPhase] = useState<Phase>('idle');
  const [error, setError] = useState<string | null>(null);
  const [canRetry, setCanRetry] = useState(false);
  const [result, setResult] = useState<(Omit<CastResult, 'receipt'> & { receipt: ReceiptJSON }) | null>(null);

  useEffect(() => {
    call<PollDetail>('GET', `/v1/polls/${props.pollId}`).then(async (d) => {
      setDetail(d);
      // The keys come from the board, as everyone sees them; the issuer's copy must match.
      if (d.manifest !== undefined && d.board !== null) setPoll(await boardManifest(d.board, d.manifest));
    }).catch((err) => setError(errorText(err)));
  }, [props.pollId]);

  if (me === null) return <section><h1>Vote</h1><p>Please <a href="/signin">sign in</a> to vote.</p></section>;
  if (detail === null) return <section><h1>Vote</h1><ErrorLine error={error} />{error === null && <Status>Loading the poll…</Status>}</section>;

  const kept = receipts().find((r) => r.receipt.poll_id === props.pollId);
  const pending = voteProgress(me.account, props.pollId);
  const multi = detail.kind === 'multi';

  const getToken = async () => {
    if (poll === null) return;
    setPhase('token');
    setError(null);
    try {
      setToken(await obtainToken(me.account, poll));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setPhase('idle');
    }
  };
  const cast = async () => {
    if (poll === null) return;
    setError(null);
    setCanRetry(false);
    try {
      const t = token ?? (await obtainToken(me.account, poll));
      setToken(t);
      setPhase('waiting');
      const delay = castDelayMs();
      setTimeout(() => setPhase((p) => (p === 'waiting' ? 'sending' : p)), delay);
      const r = await castBallot(me.account, poll, t, choice, delay);
      setResult({ ...r, receipt: r.receipt.toJSON() });
    } catch (err) {
      setError(errorText(err));
      setCanRetry(true);
    } finally {
      setPhase('idle');
    }
  };
  const toggle = (id: string, on: boolean) => setChoice((c) => (multi ? (on ? [...c, id] : c.filter((x) => x !== id)) : [id]));
  const tooMany = multi && choice.length > detail.max_choices;

  return (
    <section aria-labelledby="vote-title">
      <h1 id="vote-title">{detail.title}</h1>
      <p><span class={`badge ${detail.state}`}>{STATE_LABEL[detail.state]}</span> {when(detail.opens_at)} – {when(detail.closes_at)} · <a href={`/results/${detail.poll_id}`}>Results</a></p>
      {detail.description !== '' && <p>{detail.description}</p>}
      {result !== null ? <ReceiptView {...result} /> : kept !== undefined ? (
        <div class="card"><p class="ok" role="status">You have voted in this poll. Your receipt is kept in this browser.</p><a class="button" href="/receipts">See and re-check my receipts</a></div>
      ) : poll === null ? (
        <p>This poll is not published yet.</p>
      ) : detail.eligible === false ? (
        <p class="error" role="alert">You ({me.account}) are not on this poll's voter roll. If you should be, ask the organiser to add you.</p>
      ) : detail.token_issued === true && pending === null && token === null ? (
        <p class="error" role="alert">A voting token was already issued to your account, from another browser or device. Finish voting there: only that browser holds what turns it into a ballot.</p>
      ) : (
        <>
          <div class="card">
            <h2>1. Your anonymous token</h2>
            {token !== null || pending?.blind_sig !== undefined
              ? <p class="ok" role="status" data-testid="token-ready">Your token is ready. It was blinded in this browser: the issuer signed it without seeing it.</p>
              : <>
                  <p>Your browser blinds a random token and the issuer signs it without seeing it. Get it now, vote any time while the poll is open.</p>
                  <button type="button" onClick={() => void getToken()} disabled={phase !== 'idle'}>{phase === 'token' ? 'Getting your token…' : 'Get my token'}</button>
                </>}
          </div>
          <form class="card" onSubmit={(e) => { e.preventDefault(); void cast(); }}>
            <fieldset disabled={detail.state !== 'open' || phase !== 'idle' || pending?.ballot !== undefined}>
              <legend>2. Your choice{multi ? ` (up to ${detail.max_choices})` : ''}</legend>
              {detail.options.map((o) => (
                <label class="option" key={o.id}>
                  <input type={multi ? 'checkbox' : 'radio'} name="choice" value={o.id} checked={choice.includes(o.id)} onChange={(e) => toggle(o.id, e.currentTarget.checked)} />
                  {o.label}
                </label>
              ))}
            </fieldset>
            {detail.state !== 'open' && <p>Voting opens {when(detail.opens_at)}.</p>}
            {tooMany && <p class="error" role="alert">Choose at most {detail.max_choices}.</p>}
            {pending?.ballot !== undefined && phase === 'idle' && !canRetry && <p role="status">A ballot from this browser was sent but its receipt did not arrive. Press "Retry": the same ballot goes again and you get its receipt.</p>}
            {phase === 'waiting' && <Status>Waiting a few moments before sending, so the timing does not link your ballot to your token…</Status>}
            {phase === 'sending' && <Status>Sending your ballot…</Status>}
            <ErrorLine error={error} />
            {canRetry || pending?.ballot !== undefined
              ? <button type="submit" disabled={phase !== 'idle'}>Retry</button>
              : <button type="submit" disabled={detail.state !== 'open' || phase !== 'idle' || choice.length === 0 || tooMany}>Cast my ballot</button>}
          </form>
        </>
      )}
    </section>
  );
}
