import { Injectable, Logger } from '@nestjs/common';
import { DemoConfig } from '../../config';
import { AuthService } from '../auth/auth.service';
import { EventsService } from '../events/events.service';
import { UsersService } from '../users/users.service';

export const DEMO_ACCOUNTS = [
  { email: 'organiser@demo.tickr.local', password: 'demo-organiser-pass', name: 'Demo Organiser', role: 'organiser' },
  { email: 'buyer@demo.tickr.local', password: 'demo-buyer-password', name: 'Demo Buyer', role: 'buyer' },
] as const;

/**
 * A newcomer's first start against an empty embedded database gets accounts to try the API with.
 * Never when deployed (`DemoConfig.enabled` is false in staging and production whatever DEMO_DATA says).
 */
@Injectable()
export class DemoDataService {
  private readonly logger = new Logger('DemoData');

  constructor(
    private readonly demo: DemoConfig,
    private readonly users: UsersService,
    private readonly auth: AuthService,
    private readonly events: EventsService,
  ) {}

  async seedIfEmpty(): Promise<void> {
    if (!this.demo.enabled || !(await this.users.isEmpty())) return;
    const [organiser] = await Promise.all(DEMO_ACCOUNTS.map((account) => this.auth.register({ ...account })));
    const eventId = await this.createDemoEvent(organiser.user.id);
    const lines = DEMO_ACCOUNTS.map((a) => `  ${a.role.padEnd(9)} ${a.email}  password: ${a.password}`);
    process.stdout.write(
      `\nDemo data created (embedded database was empty):\n${lines.join('\n')}\n` +
        `  a published event: GET /v1/events/${eventId}\n\n`,
    );
    this.logger.log('demo accounts and event created');
  }

  /** A published concert a month from now with two ticket types, so the catalog is not empty. */
  private async createDemoEvent(organiserId: string): Promise<string> {
    const startsAt = new Date(Date.now() + 30 * 86_400_000);
    startsAt.setUTCHours(19, 0, 0, 0);
    const event = await this.events.create(organiserId, {
      title: 'Jazz à Carthage — opening night',
      description: 'A demo event: the opening night of a summer jazz festival by the sea.',
      category: 'concert',
      venue: { name: 'Amphithéâtre de Carthage', city: 'Tunis', address: 'Rue Hannibal, Carthage' },
      startsAt,
      endsAt: new Date(startsAt.getTime() + 3 * 3_600_000),
      timezone: 'Africa/Tunis',
      currency: 'TND',
    });
    await this.events.addTicketType(organiserId, event.id, { name: 'Gradins', price: 45_000, capacity: 2_000 });
    await this.events.addTicketType(organiserId, event.id, { name: 'VIP', price: 150_000, capacity: 100, maxPerOrder: 4 });
    await this.events.publish(organiserId, event.id);
    return event.id;
  }
}
