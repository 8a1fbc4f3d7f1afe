/** The contract's shapes, for tests that check answers carry exactly these fields. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const EVENT_KEYS = [
  'category',
  'createdAt',
  'currency',
  'description',
  'endsAt',
  'id',
  'imageUrl',
  'organiserId',
  'startsAt',
  'status',
  'ticketTypes',
  'timezone',
  'title',
  'updatedAt',
  'venue',
  'waitingRoom',
];

export const TICKET_TYPE_KEYS = [
  'available',
  'capacity',
  'currency',
  'id',
  'maxPerBuyer',
  'maxPerOrder',
  'name',
  'price',
  'salesEndAt',
  'salesStartAt',
];
