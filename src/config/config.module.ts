import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { AppConfig } from './app-config';
import { SLICE_TOKENS } from './config-slices';

/**
 * Makes each slice injectable everywhere (`OrdersConfig` is `config.orders`), and the whole
 * `AppConfig` for the composition root. Built once in `main.ts` (or by a test).
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    const slices: Provider[] = (Object.keys(SLICE_TOKENS) as (keyof typeof SLICE_TOKENS)[]).map((name) => ({
      provide: SLICE_TOKENS[name],
      useValue: config[name],
    }));
    return {
      module: ConfigModule,
      providers: [{ provide: AppConfig, useValue: config }, ...slices],
      exports: [AppConfig, ...Object.values(SLICE_TOKENS)],
    };
  }
}
