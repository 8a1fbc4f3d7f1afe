import { Injectable, Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

/** The metadata of one target under one key, remembered (undefined included). */
interface Remembered {
  value: unknown;
}

/**
 * Nest's `Reflector`, remembering what it read per key and target. Route and controller metadata is
 * fixed once the decorators have run, yet the global guards read it on every request: the
 * throttler alone asks six keys for the handler and then its class, each a walk of
 * `reflect-metadata`'s maps (about 5 % of a warm event read's CPU in the profile). The answers are
 * the same; only the walk is done once. Targets are held weakly, keys are the app's few metadata keys.
 */
@Injectable()
export class CachedReflector extends Reflector {
  private readonly remembered = new Map<unknown, WeakMap<Type | Function, Remembered>>();

  override get(metadataKeyOrDecorator: unknown, target: Type | Function): any {
    let byTarget = this.remembered.get(metadataKeyOrDecorator);
    if (!byTarget) this.remembered.set(metadataKeyOrDecorator, (byTarget = new WeakMap()));
    let entry = byTarget.get(target);
    if (!entry) byTarget.set(target, (entry = { value: super.get(metadataKeyOrDecorator as string, target) }));
    return entry.value;
  }
}
