import { Injectable, OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { EventCache } from './event-cache';
import './ticket-inventory.service';

/**
 * Keeps the cached event in step with its inventory after every committed change: withdrawn seats
 * change the capacity the snapshot carries (a new generation); anything else only the live counts.
 */
@Injectable()
export class InventoryChangesSubscriber implements OnModuleInit {
  constructor(
    private readonly events: DomainEvents,
    private readonly cache: EventCache,
  ) {}

  onModuleInit(): void {
    this.events.on('inventory.changed', ({ eventId, capacityChanged }) =>
      capacityChanged ? this.cache.invalidate(eventId) : this.cache.countsChanged(eventId),
    );
  }
}
