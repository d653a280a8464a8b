/** Sign in with a built-in account (or register one), or paste the identity provider's bearer token. */
import { useState } from 'preact/hooks';
import { call, errorText } from '../api.ts';
import type { SessionReply } from '../api.ts';
import { register as registerAccount } from '../pow.ts';
import { setSession } from '../store.ts';
import type { Session } from '../store.ts';
import { ErrorLine } from './common.tsx';

export function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [bearer, setBearer] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const done = (s: Session) => {
    setSession(s);
    props.onSignedIn(s);
  };
  const withPassword = async (register: boolean) => {
    setBusy(true);
    setError(null);
    try {
      if (register) await registerAccount(username, password);
      const reply = await call<SessionReply>('POST', '/v1/sessions', { body: { username, password }, auth: false });
      done({ token: reply.token, account: reply.account, admin: reply.admin, via: 'password' });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const withIdp = async () => {
    setBusy(true);
    setError(null);
    try {
      const me = await call<{ account: string; admin: boolean }>('GET', '/v1/me', { bearer: bearer.trim() });
      done({ token: bearer.trim(), account: me.account, admin: me.admin, via: 'idp' });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <form class="card" onSubmit={(e) => { e.preventDefault(); void withPassword(false); }}>
        <h2>With your account</h2>
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <div class="row">
          <button type="submit" disabled={busy}>Sign in</button>
          <button type="button" class="secondary" disabled={busy} onClick={() => void withPassword(true)}>Create account</button>
        </div>
      </form>
      <form class="card" onSubmit={(e) => { e.preventDefault(); void withIdp(); }}>
        <h2>With your organisation's sign-in</h2>
        <label for="bearer">Bearer token from your identity provider</label>
        <textarea id="bearer" rows={3} required value={bearer} onInput={(e) => setBearer(e.currentTarget.value)} />
        <button type="submit" disabled={busy}>Use this token</button>
      </form>
      <ErrorLine error={error} />
    </section>
  );
}
