import { Injectable } from '@nestjs/common';
import { Sql, SqlWrite } from '../../database/transaction';
import { HeldSeats, InventoryDelta, InventoryLock, TicketInventoryRepository } from './ticket-inventory.repository';

export type { HeldSeats, InventoryDelta, InventoryLock, LockedTicketType } from './ticket-inventory.repository';

declare module '../../common/domain-events' {
  interface DomainEventMap {
    /**
     * An event's seat counts changed (a hold, a sale, a release, a refund). Published inside the
     * transaction that changed them; `capacityChanged` when seats were withdrawn, which the cached
     * snapshot of the event carries.
     */
    'inventory.changed': { eventId: string; capacityChanged?: boolean };
  }
}

/**
 * The seat inventory of ticket types, owned by the events module: other modules change the counters
 * only through here, each call inside the caller's transaction (`sql` first), so that the change
 * commits or rolls back with the order that caused it.
 */
@Injectable()
export class TicketInventory {
  constructor(private readonly inventory: TicketInventoryRepository) {}

  /**
   * Locks the asked-for ticket types of the event (in id order, until commit) and reads what a hold
   * decides on; `lockFirst`, the caller's own locking statement, runs in the same round trip, its
   * locks taken before the ticket types' (its rows come back in `first`).
   */
  lockForHolds(sql: Sql, eventId: string, ticketTypeIds: readonly string[], lockFirst?: SqlWrite): Promise<InventoryLock> {
    return this.inventory.lockForHolds(sql, eventId, ticketTypeIds, lockFirst);
  }

  /** Takes held seats from ticket types locked by `lockForHolds` in this transaction; one statement. */
  takeHeld(sql: Sql, seats: readonly HeldSeats[]): Promise<void> {
    return this.inventory.takeHeld(sql, seats);
  }

  /**
   * `takeHeld` as a statement the hold runs as part of its own write (the seats, the orders and the
   * keys in one round trip while the rows are locked); undefined when nothing is taken.
   */
  heldSeatsWrite(seats: readonly HeldSeats[]): SqlWrite | undefined {
    return this.inventory.heldSeatsWrite(seats);
  }

  /** Signed counter changes (sell, release, refund), locking the rows in id order; at most two statements. */
  apply(sql: Sql, deltas: readonly InventoryDelta[]): Promise<void> {
    return this.inventory.apply(sql, deltas);
  }
}
