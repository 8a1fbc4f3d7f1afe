export { AppConfig, ConfigError, type MigrationConfig, type Settings } from './app-config';
export * from './config-slices';
export { ConfigModule } from './config.module';
