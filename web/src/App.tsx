import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, Route, Switch } from 'wouter';
import { api, currentSession, onSession, setSession, type Session } from './api/client';
import { LANGUAGES, setLang, translate as t, useLang } from './i18n';
import { Catalog } from './pages/Catalog';
import { EventPage } from './pages/EventPage';
import { Checkout } from './pages/Checkout';
import { LoginPage, RegisterPage } from './pages/Auth';

// Everything off the buyer's path is its own chunk, fetched only when visited.
const Confirmation = lazy(() => import('./pages/Confirmation'));
const MyOrders = lazy(() => import('./pages/MyOrders'));
const Organiser = lazy(() => import('./pages/Organiser'));
const OrganiserEvent = lazy(() => import('./pages/OrganiserEvent'));
const Door = lazy(() => import('./pages/Door'));

export function useSession(): Session | null {
  const [session, set] = useState(currentSession());
  useEffect(() => onSession(set), []);
  return session;
}

export function App() {
  const lang = useLang();
  const session = useSession();
  const logout = async () => {
    await api.POST('/v1/auth/logout');
    setSession(null);
  };
  return (
    <div className="app" key={lang}>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <Link href="/" className="brand">{t('appName')}</Link>
        <nav aria-label="Main">
          <Link href="/">{t('catalog')}</Link>
          {session?.user.role === 'buyer' && <Link href="/orders">{t('myOrders')}</Link>}
          {session?.user.role === 'organiser' && <Link href="/organiser">{t('organiser')}</Link>}
          {session ? (
            <button type="button" onClick={() => void logout()}>{t('logout')}</button>
          ) : (
            <>
              <Link href="/login">{t('login')}</Link>
              <Link href="/register">{t('register')}</Link>
            </>
          )}
        </nav>
        <label className="lang">
          {t('language')}
          <select value={lang} onChange={(e) => setLang(e.target.value)}>
            {Object.entries(LANGUAGES).map(([code, name]) => (
              <option key={code} value={code}>{name}</option>
            ))}
          </select>
        </label>
      </header>
      <main id="main">
        <Suspense fallback={<p>{t('loading')}</p>}>
          <Switch>
            <Route path="/" component={Catalog} />
            <Route path="/events/:id">{(p) => <EventPage id={p.id} />}</Route>
            <Route path="/checkout/:id">{(p) => <Checkout id={p.id} />}</Route>
            <Route path="/orders/:id">{(p) => <Confirmation id={p.id} />}</Route>
            <Route path="/orders" component={MyOrders} />
            <Route path="/login" component={LoginPage} />
            <Route path="/register" component={RegisterPage} />
            <Route path="/organiser" component={Organiser} />
            <Route path="/organiser/events/:id">{(p) => <OrganiserEvent id={p.id} />}</Route>
            <Route path="/door/:id">{(p) => <Door id={p.id} />}</Route>
            <Route><p>{t('err_NOT_FOUND')}</p></Route>
          </Switch>
        </Suspense>
      </main>
    </div>
  );
}
