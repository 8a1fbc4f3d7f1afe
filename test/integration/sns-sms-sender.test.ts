import {
  AuthorizationErrorException,
  InternalErrorException,
  InvalidParameterException,
  InvalidParameterValueException,
  OptedOutException,
  PublishCommand,
  SNSClient,
  ThrottledException,
} from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import {
  InvalidSmsError,
  isPermanentSmsError,
  MAX_SMS_TEXT_LENGTH,
  SnsSmsSender,
  SnsSmsSenderOptions,
} from '../../src/adapters/aws/sns-sms-sender.adapter';
import { UndeliverableError } from '../../src/ports/email-sender.port';

const client = new SNSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const sns = mockClient(client);

function sender(options: Partial<SnsSmsSenderOptions> = {}): SnsSmsSender {
  return new SnsSmsSender({ region: 'eu-west-1', client, ...options });
}

const metadata = { $metadata: { httpStatusCode: 400 } };

beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'f3a1c0de-0000-4000-8000-000000000001' });
});

afterAll(() => sns.restore());

describe('SnsSmsSender', () => {
  it('publishes a transactional SMS straight to the phone number', async () => {
    await sender().send({ id: 'sms-1', to: '+21698765432', text: 'Tickr: your 2 tickets for Jazz à Carthage are confirmed. Ref 7F3A9C21.' });

    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      PhoneNumber: '+21698765432',
      Message: 'Tickr: your 2 tickets for Jazz à Carthage are confirmed. Ref 7F3A9C21.',
      MessageAttributes: {
        'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' },
      },
    });
  });

  it('adds the sender ID when one is configured', async () => {
    await sender({ senderId: 'Tickr' }).send({ id: 'sms-2', to: '+33612345678', text: 'Doors open at 19:00.' });

    expect(sns.commandCalls(PublishCommand)[0].args[0].input).toEqual({
      PhoneNumber: '+33612345678',
      Message: 'Doors open at 19:00.',
      MessageAttributes: {
        'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' },
        'AWS.SNS.SMS.SenderID': { DataType: 'String', StringValue: 'Tickr' },
      },
    });
  });

  it('bounds each call with an abort signal', async () => {
    await sender({ requestTimeoutMs: 5_000 }).send({ id: 'sms-3', to: '+21698765432', text: 'Hello' });

    const options = (sns.call(0).args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined;
    expect(options?.abortSignal).toBeInstanceOf(AbortSignal);
    expect(options?.abortSignal?.aborted).toBe(false);
  });

  it.each([
    ['a national number without country code', '98765432'],
    ['a number with a leading 00', '0021698765432'],
    ['a number with spaces', '+216 98 765 432'],
    ['a country code starting with 0', '+0123456789'],
    ['more than 15 digits', '+1234567890123456'],
    ['an empty string', ''],
  ])('refuses %s without calling SNS', async (_, to) => {
    const sending = sender().send({ id: 'sms-bad', to, text: 'Hello' });

    await expect(sending).rejects.toBeInstanceOf(InvalidSmsError);
    await expect(sending).rejects.toBeInstanceOf(UndeliverableError);
    await expect(sending).rejects.toThrow(/E\.164/);
    expect(sns.calls()).toHaveLength(0);
  });

  it('accepts a text of exactly the SNS limit and refuses one character more, or an empty one', async () => {
    await sender().send({ id: 'sms-max', to: '+21698765432', text: 'a'.repeat(MAX_SMS_TEXT_LENGTH) });
    expect(sns.calls()).toHaveLength(1);
    expect(MAX_SMS_TEXT_LENGTH).toBe(1600);

    await expect(sender().send({ id: 'sms-long', to: '+21698765432', text: 'a'.repeat(1601) })).rejects.toBeInstanceOf(
      InvalidSmsError,
    );
    await expect(sender().send({ id: 'sms-empty', to: '+21698765432', text: '' })).rejects.toBeInstanceOf(InvalidSmsError);
    expect(sns.calls()).toHaveLength(1);
  });

  it('refuses an invalid sender ID at construction', () => {
    expect(() => sender({ senderId: 'Tickr Tunis' })).toThrow(/sender ID/);
    expect(() => sender({ senderId: 'TickrTunisia' })).toThrow(/sender ID/); // 12 characters
    expect(() => sender({ senderId: '12345' })).toThrow(/sender ID/); // no letter
  });

  it('turns an SNS refusal of the message into an UndeliverableError, which the relay dead-letters', async () => {
    const refused = new InvalidParameterException({
      message: 'Invalid parameter: PhoneNumber Reason: +21600000000 is not valid to publish to',
      ...metadata,
    });
    sns.on(PublishCommand).rejects(refused);

    const error = await sender().send({ id: 'sms-4', to: '+21600000000', text: 'Hello' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UndeliverableError);
    expect(error).toMatchObject({
      message: expect.stringContaining('InvalidParameterException: Invalid parameter: PhoneNumber'),
      cause: refused,
    });
    expect(sns.calls()).toHaveLength(1);
  });

  it('lets a passing failure through unchanged, so the relay retries it', async () => {
    const throttled = new ThrottledException({ message: 'Rate exceeded', ...metadata });
    sns.on(PublishCommand).rejects(throttled);

    const error = await sender().send({ id: 'sms-5', to: '+21698765432', text: 'Hello' }).catch((e: unknown) => e);

    expect(error).toBe(throttled);
    expect(error).not.toBeInstanceOf(UndeliverableError);
  });
});

describe('isPermanentSmsError', () => {
  it('is true for errors about the message itself', () => {
    expect(isPermanentSmsError(new InvalidSmsError('bad number'))).toBe(true);
    expect(isPermanentSmsError(new UndeliverableError('refused'))).toBe(true);
    expect(isPermanentSmsError(new InvalidParameterException({ message: 'Invalid parameter: PhoneNumber', ...metadata }))).toBe(true);
    expect(isPermanentSmsError(new InvalidParameterValueException({ message: 'Invalid value', ...metadata }))).toBe(true);
    expect(isPermanentSmsError(new OptedOutException({ message: 'opted out', ...metadata }))).toBe(true);
    // Unmodelled errors carry the wire code as their name.
    expect(isPermanentSmsError(Object.assign(new Error('x'), { name: 'InvalidParameter' }))).toBe(true);
    expect(isPermanentSmsError(Object.assign(new Error('x'), { name: 'Unknown', Code: 'ParameterValueInvalid' }))).toBe(true);
  });

  it('is false for what a later attempt may get through', () => {
    expect(isPermanentSmsError(new ThrottledException({ message: 'Rate exceeded', ...metadata }))).toBe(false);
    expect(isPermanentSmsError(new InternalErrorException({ message: 'Internal error', $metadata: { httpStatusCode: 500 } }))).toBe(false);
    expect(isPermanentSmsError(new AuthorizationErrorException({ message: 'not authorized', $metadata: { httpStatusCode: 403 } }))).toBe(false);
    const timeout = new Error('The operation was aborted due to timeout');
    timeout.name = 'TimeoutError';
    expect(isPermanentSmsError(timeout)).toBe(false);
    expect(isPermanentSmsError(new Error('socket hang up'))).toBe(false);
    expect(isPermanentSmsError('InvalidParameter')).toBe(false);
    expect(isPermanentSmsError(undefined)).toBe(false);
  });
});
