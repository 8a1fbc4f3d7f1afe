import { randomUUID } from 'node:crypto';
import type { EventView } from '../../src/modules/events/event.model';

/** An event view as the catalog sends it, one ticket type `tt-1` with `available` seats left. */
export function view(id: string, title: string, available = 10): EventView {
  return {
    id,
    organiserId: randomUUID(),
    title,
    description: '',
    category: 'concert',
    venue: { name: 'Hall', city: 'Tunis', address: 'x' },
    startsAt: '2030-01-01T20:00:00.000Z',
    endsAt: '2030-01-01T23:00:00.000Z',
    timezone: 'Africa/Tunis',
    currency: 'TND',
    status: 'published',
    imageUrl: null,
    waitingRoom: { enabled: false, admitPerMinute: 600 },
    ticketTypes: [
      {
        id: 'tt-1',
        name: 'GA',
        price: 1000,
        currency: 'TND',
        capacity: 10,
        available,
        maxPerOrder: 10,
        maxPerBuyer: null,
        salesStartAt: null,
        salesEndAt: null,
      },
    ],
    createdAt: '2029-01-01T00:00:00.000Z',
    updatedAt: '2029-01-01T00:00:00.000Z',
  };
}

/** A stand-in for Postgres whose answers the test controls, counting reads. */
export class FakeDatabase {
  title = 'Before';
  available = 10;
  snapshots = 0;
  counts = 0;
  private gate?: Promise<void>;
  private open?: () => void;

  constructor(private readonly id: string) {}

  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  loaders() {
    return {
      snapshot: async () => {
        this.snapshots++;
        const title = this.title; // read now, as a query would
        const available = this.available;
        await this.gate;
        return view(this.id, title, available);
      },
      availability: async () => {
        this.counts++;
        return { 'tt-1': this.available };
      },
    };
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
