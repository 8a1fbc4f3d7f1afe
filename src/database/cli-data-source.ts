import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source.options';

/** For the TypeORM CLI (`npm run migration:generate`): needs DATABASE_URL, e.g. the dev embedded one. */
const config = AppConfig.fromEnv();
if (!config.database.url) {
  throw new Error('DATABASE_URL is required for the TypeORM CLI (the dev server prints the embedded one)');
}
export default new DataSource(dataSourceOptions(config.database.url, { ssl: config.database.ssl, withMigrations: true }));
