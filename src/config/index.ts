/**
 * What a module may import from the configuration: the slices, never the whole `AppConfig`, which
 * the composition root alone imports from ./app-config (a path a dependency rule can check).
 */
export * from './config-slices';
