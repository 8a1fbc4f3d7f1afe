import { useEffect, useState, type FormEvent } from 'react';
import { api, type UserDto } from '../api/client';
import { problemMessage, translate as t } from '../i18n';
import { FieldErrors, fieldErrors } from './fields';

/**
 * "Verify your phone": SMS (the ticket confirmation) go only to a verified number. Enter or keep
 * the number → a code by SMS → the code → verified.
 */
export default function PhoneVerification() {
  const [user, setUser] = useState<UserDto | null>(null);
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState('');
  const [sentTo, setSentTo] = useState('');
  const [changing, setChanging] = useState(false);
  const [error, setError] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    void api.GET('/v1/me').then(({ data }) => {
      if (!data) return;
      setUser(data);
      setPhone(data.phone ?? '');
    });
  }, []);
  if (!user) return null;

  const send = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    const { data, error: problem } = await api.POST('/v1/me/phone/verification', { body: phone && phone !== user.phone ? { phone } : {} });
    setErrors(fieldErrors(problem));
    if (!data) return setError(problemMessage(problem?.code));
    setSentTo(data.phone);
    setCode('');
  };
  const verify = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    const { data, error: problem } = await api.POST('/v1/me/phone/verify', { body: { code } });
    setErrors(fieldErrors(problem));
    if (!data) return setError(problemMessage(problem?.code));
    setUser(data);
    setSentTo('');
    setChanging(false);
  };

  return (
    <section aria-labelledby="phone-title" className="card">
      <h2 id="phone-title">{t('yourPhone')}</h2>
      {user.phoneVerified && !changing ? (
        <>
          <p>{user.phone} · {t('phoneVerified')}</p>
          <button type="button" onClick={() => setChanging(true)}>{t('changePhone')}</button>
        </>
      ) : sentTo ? (
        <form className="form" onSubmit={(e) => void verify(e)}>
          <p role="status">{t('codeSent', { phone: sentTo })}</p>
          <label>
            {t('smsCode')}
            <input inputMode="numeric" autoComplete="one-time-code" pattern="\d{6}" maxLength={6} required value={code}
              aria-invalid={Boolean(errors.code)} onChange={(e) => setCode(e.target.value.trim())} />
            <FieldErrors errors={errors} name="code" />
          </label>
          <button type="submit">{t('verifyPhone')}</button>
          <button type="button" onClick={() => setSentTo('')}>{t('changePhone')}</button>
        </form>
      ) : (
        <form className="form" onSubmit={(e) => void send(e)}>
          <p>{t('phoneUnverified')}</p>
          <label>
            {t('phoneNumber')}
            <input type="tel" autoComplete="tel" placeholder="+21612345678" required value={phone}
              aria-invalid={Boolean(errors.phone)} onChange={(e) => setPhone(e.target.value.trim())} />
            <FieldErrors errors={errors} name="phone" />
          </label>
          <button type="submit">{t('sendCode')}</button>
        </form>
      )}
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
