/** Admin: create and edit drafts, import the roll with a preview, publish, close, watch issuance. */
import { useEffect, useState } from 'preact/hooks';
import { formatTime } from '@blindvote/crypto';
import { call, errorText } from '../api.ts';
import type { PollDetail, PollSummary, RollReply } from '../api.ts';
import { navigate } from '../router.ts';
import { ErrorLine, STATE_LABEL, Status, when } from './common.tsx';

/** `datetime-local` value → RFC 3339 UTC in whole seconds, as the issuer requires. */
export function toUtc(local: string): string {
  return formatTime(new Date(local));
}
function toLocal(iso: string): string {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
/** One option per line: "id: Label", or just a label (its id derived). */
export function parseOptions(text: string): { id: string; label: string }[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((line) => {
    const m = /^([a-z0-9][a-z0-9_-]{0,63}):\s*(.+)$/.exec(line);
    if (m !== null) return { id: m[1]!, label: m[2]! };
    return { id: line.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64) || 'option', label: line };
  });
}

export function AdminPage() {
  const [polls, setPolls] = useState<PollSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ title: '', poll_id: '', description: '', options: '', kind: 'single', max_choices: '1', opens_at: toLocal(new Date().toISOString()), closes_at: toLocal(new Date(Date.now() + 7 * 86_400_000).toISOString()), results: 'live' });
  useEffect(() => {
    call<{ polls: PollSummary[] }>('GET', '/v1/polls').then((r) => setPolls(r.polls), (err) => setError(errorText(err)));
  }, []);
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  const create = async () => {
    setError(null);
    try {
      const body = {
        title: form.title, description: form.description, options: parseOptions(form.options), kind: form.kind,
        max_choices: Number(form.max_choices), opens_at: toUtc(form.opens_at), closes_at: toUtc(form.closes_at), results: form.results,
        ...(form.poll_id !== '' ? { poll_id: form.poll_id } : {}),
      };
      const created = await call<PollDetail>('POST', '/v1/polls', { body });
      navigate(`/admin/polls/${created.poll_id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Run polls</h1>
      <ul class="plain">
        {(polls ?? []).map((p) => (
          <li class="card compact" key={p.poll_id}>
            <a href={`/admin/polls/${p.poll_id}`}>{p.title}</a> <span class={`badge ${p.state}`}>{STATE_LABEL[p.state]}</span> <span class="muted">{p.poll_id}</span>
          </li>
        ))}
      </ul>
      <form class="card" onSubmit={(e) => { e.preventDefault(); void create(); }}>
        <h2>New poll</h2>
        <label for="f-title">Title</label>
        <input id="f-title" required value={form.title} onInput={set('title')} />
        <label for="f-id">Poll id (optional: lowercase letters, digits, dashes)</label>
        <input id="f-id" value={form.poll_id} onInput={set('poll_id')} />
        <label for="f-desc">Description</label>
        <textarea id="f-desc" rows={2} value={form.description} onInput={set('description')} />
        <label for="f-options">Options, one per line (“id: Label” or just a label)</label>
        <textarea id="f-options" rows={4} required value={form.options} onInput={set('options')} />
        <div class="grid">
          <div><label for="f-kind">Ballot</label>
            <select id="f-kind" value={form.kind} onChange={set('kind')}><option value="single">one choice</option><option value="multi">several choices</option></select></div>
          <div><label for="f-max">Most choices</label><input id="f-max" type="number" min={1} value={form.max_choices} onInput={set('max_choices')} /></div>
          <div><label for="f-opens">Opens</label><input id="f-opens" type="datetime-local" required value={form.opens_at} onInput={set('opens_at')} /></div>
          <div><label for="f-closes">Closes</label><input id="f-closes" type="datetime-local" required value={form.closes_at} onInput={set('closes_at')} /></div>
          <div><label for="f-results">Results</label>
            <select id="f-results" value={form.results} onChange={set('results')}><option value="live">live</option><option value="sealed">sealed until close</option></select></div>
        </div>
        <button type="submit">Create draft</button>
        <ErrorLine error={error} />
      </form>
    </section>
  );
}

export function AdminPollPage(props: { pollId: string }) {
  const [detail, setDetail] = useState<PollDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [csv, setCsv] = useState('');
  const [preview, setPreview] = useState<RollReply | null>(null);
  const [stats, setStats] = useState<{ roll_size: number; issued: number } | null>(null);
  const [edit, setEdit] = useState<{ title: string; closes_at: string } | null>(null);
  const base = `/v1/polls/${props.pollId}`;
  const load = () => call<PollDetail>('GET', base).then((d) => {
    setDetail(d);
    setEdit({ title: d.title, closes_at: toLocal(d.closes_at) });
  }, (err) => setError(errorText(err)));
  useEffect(() => { void load(); }, [props.pollId]);
  useEffect(() => {
    const tick = () => call<{ roll_size: number; issued: number }>('GET', `${base}/stats`).then(setStats, () => {});
    void tick();
    const timer = setInterval(tick, 2000);
    return () => clearInterval(timer);
  }, [props.pollId]);

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setError(null);
    setNotice(null);
    try {
      await fn();
      setNotice(what);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (detail === null) return <section><h1>Poll</h1><ErrorLine error={error} />{error === null && <Status>Loading…</Status>}</section>;
  const draft = detail.state === 'draft';
  return (
    <section aria-labelledby="poll-admin-title">
      <h1 id="poll-admin-title">{detail.title}</h1>
      <p><span class={`badge ${detail.state}`} data-testid="poll-state">{STATE_LABEL[detail.state]}</span> {detail.poll_id} · {when(detail.opens_at)} – {when(detail.closes_at)} · {detail.results}</p>
      {notice !== null && <p class="ok" role="status">{notice}</p>}
      <ErrorLine error={error} />
      <div class="card">
        <h2>Issuance and turnout</h2>
        <p data-testid="stats">{stats === null ? '…' : `${stats.issued} of ${stats.roll_size} voters on the roll have their token`}</p>
        <div class="row"><a class="button secondary" href={`/results/${detail.poll_id}`}>Live results</a></div>
        {detail.board !== null && <p class="hint">Board: <a href={`${detail.board}/checkpoint`}>{detail.board}</a> · audit: <code>npx blindvote-verify audit {detail.board}</code></p>}
      </div>
      {draft && edit !== null && (
        <form class="card" onSubmit={(e) => { e.preventDefault(); void act('Saved.', () => call('PATCH', base, { body: { title: edit.title, closes_at: toUtc(edit.closes_at) } })); }}>
          <h2>Edit draft</h2>
          <label for="e-title">Title</label>
          <input id="e-title" required value={edit.title} onInput={(e) => setEdit({ ...edit, title: e.currentTarget.value })} />
          <label for="e-closes">Closes</label>
          <input id="e-closes" type="datetime-local" required value={edit.closes_at} onInput={(e) => setEdit({ ...edit, closes_at: e.currentTarget.value })} />
          <button type="submit">Save</button>
        </form>
      )}
      {draft && (
        <div class="card">
          <h2>Voter roll</h2>
          <label for="roll-file">CSV file (one account per row; optional header “account”)</label>
          <input id="roll-file" type="file" accept=".csv,text/csv" onChange={(e) => { const f = e.currentTarget.files?.[0]; if (f) void f.text().then((t) => { setCsv(t); setPreview(null); }); }} />
          <label for="roll-csv">…or paste it</label>
          <textarea id="roll-csv" rows={5} value={csv} onInput={(e) => { setCsv(e.currentTarget.value); setPreview(null); }} />
          <div class="row">
            <button type="button" class="secondary" onClick={() => void call<RollReply>('PUT', `${base}/roll?dry_run=true`, { csv }).then(setPreview, (err) => setError(errorText(err)))}>Preview</button>
            <button type="button" disabled={preview === null} onClick={() => void act('Roll imported.', () => call<RollReply>('PUT', `${base}/roll`, { csv }).then(setPreview))}>Import roll</button>
          </div>
          {preview !== null && (
            <div data-testid="roll-preview">
              <p role="status">{preview.size} voters{preview.errors.length > 0 ? `; ${preview.errors.length} rows will be left out:` : ', no errors.'}</p>
              {preview.errors.length > 0 && (
                <table>
                  <thead><tr><th scope="col">Row</th><th scope="col">Value</th><th scope="col">Problem</th></tr></thead>
                  <tbody>{preview.errors.map((e) => <tr key={e.row}><td>{e.row}</td><td>{e.value}</td><td>{e.error}</td></tr>)}</tbody>
                </table>
              )}
            </div>
          )}
        </div>
      )}
      <div class="card row">
        {draft && <button type="button" onClick={() => void act('Published: the manifest is on the board.', () => call('POST', `${base}/publish`))}>Publish</button>}
        {draft && <button type="button" class="danger" onClick={() => void act('Deleted.', () => call('DELETE', base).then(() => navigate('/admin')))}>Delete draft</button>}
        {(detail.state === 'open' || detail.state === 'upcoming') && <button type="button" class="danger" onClick={() => void act('Closed: the board has the close entry; the tally follows.', () => call('POST', `${base}/close`))}>Close now</button>}
      </div>
    </section>
  );
}
