import { Controller, Get, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CachedReflector } from './cached-reflector';

const Limit = Reflector.createDecorator<number>();

@Controller()
@SetMetadata('role', 'organiser')
class Routes {
  @Get('a')
  @SetMetadata('role', 'buyer')
  @Limit(5)
  a() {}

  @Get('b')
  b() {}
}

describe('CachedReflector', () => {
  const plain = new Reflector();
  const cached = new CachedReflector();
  const targets = (handler: () => void) => [handler, Routes];

  it("answers as Nest's Reflector: overrides, decorators, absent keys", () => {
    for (const handler of [Routes.prototype.a, Routes.prototype.b]) {
      for (const key of ['role', 'absent'] as const) {
        expect(cached.getAllAndOverride(key, targets(handler))).toEqual(plain.getAllAndOverride(key, targets(handler)));
        expect(cached.getAll(key, targets(handler))).toEqual(plain.getAll(key, targets(handler)));
      }
      expect(cached.getAllAndOverride(Limit, targets(handler))).toEqual(plain.getAllAndOverride(Limit, targets(handler)));
    }
    expect(cached.getAllAndOverride('role', targets(Routes.prototype.a))).toBe('buyer');
    expect(cached.getAllAndOverride('role', targets(Routes.prototype.b))).toBe('organiser');
    expect(cached.get(Limit, Routes.prototype.a)).toBe(5);
    expect(cached.get(Limit, Routes.prototype.b)).toBeUndefined();
  });

  it('walks the metadata once per key and target, absent keys included', () => {
    const reflector = new CachedReflector();
    const walk = jest.spyOn(Reflect, 'getMetadata');
    try {
      for (let i = 0; i < 100; i++) {
        reflector.getAllAndOverride('role', targets(Routes.prototype.b));
        reflector.getAllAndOverride('absent', targets(Routes.prototype.b));
      }
      expect(walk).toHaveBeenCalledTimes(4); // two keys, each on the handler and then the class
    } finally {
      walk.mockRestore();
    }
  });
});
