/** The client's entry point: header, navigation and the page for the current path. */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, call } from './api.ts';
import { navigate, onLink, usePath } from './router.ts';
import { session, setSession } from './store.ts';
import type { Session } from './store.ts';
import { AdminPage, AdminPollPage } from './ui/admin.tsx';
import { PollList } from './ui/polls.tsx';
import { ReceiptsPage } from './ui/receipts.tsx';
import { ResultsPage } from './ui/results.tsx';
import { SignIn } from './ui/signin.tsx';
import { VotePage } from './ui/vote.tsx';

function Page(props: { path: string; me: Session | null; onSignedIn: (s: Session) => void }) {
  const { path, me } = props;
  let m: RegExpExecArray | null;
  if (path === '/signin') return <SignIn onSignedIn={props.onSignedIn} />;
  if (path === '/receipts') return <ReceiptsPage />;
  if ((m = /^\/vote\/([a-z0-9-]+)$/.exec(path)) !== null) return <VotePage key={m[1]} pollId={m[1]!} />;
  if ((m = /^\/results\/([a-z0-9-]+)$/.exec(path)) !== null) return <ResultsPage key={m[1]} pollId={m[1]!} />;
  if (path === '/admin' || path.startsWith('/admin/')) {
    if (me === null || !me.admin) return <section><h1>Run polls</h1><p>Only admins run polls. <a href="/signin">Sign in</a> with an admin account.</p></section>;
    if ((m = /^\/admin\/polls\/([a-z0-9-]+)$/.exec(path)) !== null) return <AdminPollPage key={m[1]} pollId={m[1]!} />;
    return <AdminPage />;
  }
  if (path === '/') return me === null ? <SignIn onSignedIn={props.onSignedIn} /> : <PollList />;
  return <section><h1>Not found</h1><p>There is no page at {path}. <a href="/">Go to the polls</a>.</p></section>;
}

function App() {
  const path = usePath();
  const [me, setMe] = useState(session());
  const signOut = () => {
    setSession(null);
    setMe(null);
    navigate('/');
  };
  return (
    <div onClick={onLink}>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <a class="brand" href="/">blindvote</a>
        <nav aria-label="Main">
          <a href="/" aria-current={path === '/' ? 'page' : undefined}>Polls</a>
          <a href="/receipts" aria-current={path === '/receipts' ? 'page' : undefined}>Receipts</a>
          {me?.admin === true && <a href="/admin" aria-current={path.startsWith('/admin') ? 'page' : undefined}>Admin</a>}
          {me === null ? <a href="/signin">Sign in</a> : <button type="button" class="link" onClick={signOut}>Sign out <span class="muted">({me.account})</span></button>}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} me={me} onSignedIn={(s) => { setMe(s); navigate(s.admin ? '/admin' : '/'); }} />
      </main>
    </div>
  );
}

// A stored session the issuer refuses (expired) is dropped, so the voter sees the sign-in page instead of errors.
if (session() !== null) {
  await call('GET', '/v1/me').catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) setSession(null);
  });
}
render(<App />, document.getElementById('app')!);
