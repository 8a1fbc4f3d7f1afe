import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { AuthService } from '../auth/auth.service';
import { UsersService } from '../users/users.service';

export const DEMO_ACCOUNTS = [
  { email: 'organiser@demo.tickr.local', password: 'demo-organiser-pass', name: 'Demo Organiser', role: 'organiser' },
  { email: 'buyer@demo.tickr.local', password: 'demo-buyer-password', name: 'Demo Buyer', role: 'buyer' },
] as const;

/**
 * A newcomer's first start against an empty embedded database gets accounts to try the API with.
 * Never in production (AppConfig.demoData is false there whatever the environment says).
 */
@Injectable()
export class DemoDataService {
  private readonly logger = new Logger('DemoData');

  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersService,
    private readonly auth: AuthService,
  ) {}

  async seedIfEmpty(): Promise<void> {
    if (!this.config.demoData || this.config.isProduction || !(await this.users.isEmpty())) return;
    for (const account of DEMO_ACCOUNTS) await this.auth.register({ ...account });
    const lines = DEMO_ACCOUNTS.map((a) => `  ${a.role.padEnd(9)} ${a.email}  password: ${a.password}`);
    process.stdout.write(`\nDemo data created (embedded database was empty):\n${lines.join('\n')}\n\n`);
    this.logger.log('demo accounts created');
  }
}
