import { AppConfig, ConfigError } from './app-config';

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://tickr:secret@db:5432/tickr',
  REDIS_URL: 'redis://cache:6379',
  JWT_SECRET: 'x'.repeat(32),
};

describe('AppConfig.fromEnv', () => {
  it('has the contract defaults outside production, with local drivers', () => {
    const config = AppConfig.fromEnv({});
    expect(config.env).toBe('development');
    expect(config.http.port).toBe(3000);
    expect(config.orders.holdTtlSeconds).toBe(600);
    expect(config.rateLimit).toEqual({ perMinute: 100, loginFailureLimit: 10, loginFailureWindowSeconds: 900 });
    expect(config.auth.accessTokenTtlSeconds).toBe(900);
    expect(config.drivers).toMatchObject({ storage: 'local', email: 'log', sms: 'log', metrics: 'log' });
    expect(config.database.url).toBeUndefined();
    expect(config.database.migrateOnStart).toBe(true);
    expect(config.http.keepAliveTimeoutMs).toBeGreaterThan(60_000);
    expect(config.demoData).toBe(true);
  });

  it('defaults production to the AWS drivers and never seeds demo data there', () => {
    const config = AppConfig.fromEnv({ ...production, DEMO_DATA: 'true' });
    expect(config.drivers).toMatchObject({ storage: 's3', email: 'ses', sms: 'sns', metrics: 'cloudwatch' });
    expect(config.demoData).toBe(false);
  });

  it.each(['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET'])('requires %s in production, naming it', (key) => {
    const env: Record<string, string> = { ...production };
    delete env[key];
    expect(() => AppConfig.fromEnv(env)).toThrow(new RegExp(`${key}: is required when NODE_ENV=production`));
  });

  it('refuses a JWT secret under 32 bytes in production', () => {
    expect(() => AppConfig.fromEnv({ ...production, JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 bytes/);
  });

  it('names every malformed variable', () => {
    let error: unknown;
    try {
      AppConfig.fromEnv({ PORT: '-1', RATE_LIMIT_PER_MINUTE: 'lots', EMAIL_DRIVER: 'pigeon', REDIS_URL: 'http://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const key of ['PORT', 'RATE_LIMIT_PER_MINUTE', 'EMAIL_DRIVER', 'REDIS_URL']) expect(message).toContain(`${key}:`);
  });

  it('reads TRUST_PROXY as a boolean, a hop count or a list of proxies', () => {
    expect(AppConfig.fromEnv({ TRUST_PROXY: '1' }).http.trustProxy).toBe(1);
    expect(AppConfig.fromEnv({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(AppConfig.fromEnv({}).http.trustProxy).toBe(false);
    expect(AppConfig.fromEnv({ TRUST_PROXY: '10.0.0.0/8, 172.16.0.0/12' }).http.trustProxy).toEqual(['10.0.0.0/8', '172.16.0.0/12']);
  });
});
