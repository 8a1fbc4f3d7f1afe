import { useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { api, scheduleRefresh, setSession, type Schemas } from '../api/client';
import { problemMessage, translate as t } from '../i18n';
import { FieldErrors, fieldErrors } from './fields';

function signedIn(body: Schemas['AuthResponseDto']): void {
  setSession({ user: body.user, accessToken: body.accessToken, refreshToken: body.refreshToken });
  scheduleRefresh(body.expiresIn);
}

export function LoginPage() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [, navigate] = useLocation();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { data, error: problem } = await api.POST('/v1/auth/login', { body: { email, password } });
    if (!data) return setError(problemMessage(problem?.code));
    signedIn(data);
    navigate(data.user.role === 'organiser' ? '/organiser' : '/');
  };
  return (
    <form className="form" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
      <h1 id="login-title">{t('login')}</h1>
      <label>{t('email')}<input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} /></label>
      <label>{t('password')}<input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} /></label>
      <button type="submit">{t('login')}</button>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}

export function RegisterPage() {
  const [form, setForm] = useState({ email: '', password: '', name: '', phone: '', role: 'buyer' });
  const [error, setError] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [, navigate] = useLocation();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const role = form.role === 'organiser' ? 'organiser' : 'buyer';
    const { data, error: problem } = await api.POST('/v1/auth/register', {
      body: { email: form.email, password: form.password, name: form.name, role, phone: form.phone || undefined },
    });
    if (!data) {
      setErrors(fieldErrors(problem));
      return setError(problemMessage(problem?.code));
    }
    signedIn(data);
    navigate(role === 'organiser' ? '/organiser' : '/');
  };
  const field = (name: 'email' | 'password' | 'name' | 'phone', label: string, type = 'text') => (
    <label>
      {label}
      <input type={type} value={form[name]} aria-invalid={Boolean(errors[name])} onChange={(e) => setForm({ ...form, [name]: e.target.value })} />
      <FieldErrors errors={errors} name={name} />
    </label>
  );
  return (
    <form className="form" onSubmit={(e) => void submit(e)} aria-labelledby="register-title">
      <h1 id="register-title">{t('register')}</h1>
      {field('name', t('name'))}
      {field('email', t('email'), 'email')}
      {field('password', t('password'), 'password')}
      {field('phone', t('phone'), 'tel')}
      <label>
        {t('role')}
        <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
          <option value="buyer">{t('buyer')}</option>
          <option value="organiser">{t('organiser')}</option>
        </select>
      </label>
      <button type="submit">{t('register')}</button>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}
