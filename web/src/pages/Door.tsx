import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { formatTime, translate as t } from '../i18n';
import { followStream } from './WaitingRoom';

interface Answer { ok: boolean; text: string }

/** The door: camera or typed code, a full-screen green/red answer, and the live entry counter. */
export default function Door({ id }: { id: string }) {
  const [code, setCode] = useState('');
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [stats, setStats] = useState<{ checkedIn: number; issued: number } | null>(null);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    const refresh = async () => {
      const { data } = await api.GET('/v1/events/{id}/check-ins/stats', { params: { path: { id } } });
      if (data) setStats(data);
    };
    void refresh();
    void followStream(`/v1/events/${id}/check-ins/stream`, abort.signal, () => void refresh());
    const timer = window.setInterval(() => void refresh(), 15000);
    return () => {
      abort.abort();
      window.clearInterval(timer);
    };
  }, [id]);

  const check = async (value: string) => {
    const { data, error } = await api.POST('/v1/events/{id}/check-ins', { params: { path: { id } }, body: { code: value.trim() } });
    if (data) return setAnswer({ ok: true, text: t('ok') });
    const at = error && 'checkedInAt' in error && typeof error.checkedInAt === 'string' ? error.checkedInAt : null;
    const text = error?.code === 'ALREADY_CHECKED_IN' ? t('alreadyIn', { time: at ? formatTime(at) : '' })
      : error?.code === 'TICKET_VOID' ? t('voidTicket')
      : error?.code === 'TICKET_NOT_FOUND' ? t('notThisEvent')
      : t('err_generic');
    setAnswer({ ok: false, text });
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (code.trim()) void check(code);
  };
  const next = () => {
    setAnswer(null);
    setCode('');
    input.current?.focus();
  };

  const startCamera = async () => {
    if (!video.current) return;
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    video.current.srcObject = stream;
    await video.current.play();
    setScanning(true);
    const read = await qrReader();
    const tick = async () => {
      if (!video.current || !video.current.srcObject) return;
      const found = await read(video.current);
      if (found) void check(found);
      window.setTimeout(() => void tick(), found ? 2500 : 300);
    };
    void tick();
  };

  return (
    <section aria-labelledby="door-title">
      <h1 id="door-title">{t('scanner')}</h1>
      {stats && <p className="counter" aria-live="polite" data-testid="door-counter">{t('checkedInCount', stats)}</p>}
      <form onSubmit={submit}>
        <label>{t('ticketCodeInput')}<input ref={input} value={code} autoComplete="off" onChange={(e) => setCode(e.target.value)} /></label>
        <button type="submit">{t('checkIn')}</button>
      </form>
      <p><button type="button" className="secondary" disabled={scanning} onClick={() => void startCamera().catch(() => setScanning(false))}>{t('camera')}</button></p>
      <video ref={video} muted playsInline style={{ width: '100%', display: scanning ? 'block' : 'none' }} />
      {answer && (
        <div className={`answer ${answer.ok ? 'green' : 'red'}`} role="alert">
          <p>{answer.text}</p>
          <button type="button" autoFocus onClick={next}>{t('scanAgain')}</button>
        </div>
      )}
    </section>
  );
}

type Reader = (video: HTMLVideoElement) => Promise<string | null>;

/** BarcodeDetector where the browser has it; otherwise jsQR, fetched only now. */
async function qrReader(): Promise<Reader> {
  if ('BarcodeDetector' in window && typeof window.BarcodeDetector === 'function') {
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
  }
  const { default: jsQR } = await import('jsqr');
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  return async (video) => {
    if (!context || !video.videoWidth) return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    return jsQR(image.data, image.width, image.height)?.data ?? null;
  };
}

declare global {
  interface Window {
    BarcodeDetector?: new (options: { formats: string[] }) => { detect(source: HTMLVideoElement): Promise<Array<{ rawValue: string }>> };
  }
}
