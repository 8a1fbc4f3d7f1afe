import type { InventoryDelta } from '../events/ticket-inventory.service';
import type { Order, OrderItem } from './order.model';

/** A payment sells the held seats. */
export const sellDeltas = (items: readonly OrderItem[]): InventoryDelta[] =>
  items.map((i) => ({ ticketTypeId: i.ticketTypeId, held: -i.quantity, sold: i.quantity, capacity: 0 }));

/** Holds that end unpaid (cancelled, expired) give their seats back, summed per ticket type. */
export const releaseDeltas = (orders: readonly Pick<Order, 'items'>[]): InventoryDelta[] => {
  const byType = new Map<string, number>();
  for (const order of orders) for (const i of order.items) byType.set(i.ticketTypeId, (byType.get(i.ticketTypeId) ?? 0) + i.quantity);
  return [...byType].map(([ticketTypeId, quantity]) => ({ ticketTypeId, held: -quantity, sold: 0, capacity: 0 }));
};

/**
 * A refund voids the tickets: before the event starts their seats go back on sale; after it they
 * are withdrawn with the capacity.
 */
export const refundDeltas = (voided: ReadonlyMap<string, number>, started: boolean): InventoryDelta[] =>
  [...voided].map(([ticketTypeId, n]) => ({ ticketTypeId, held: 0, sold: -n, capacity: started ? -n : 0 }));
