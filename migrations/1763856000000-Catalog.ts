import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events and ticket types. The inventory counters live on `ticket_types` and are guarded by the
 * database itself: whatever the application does, `sold + held` can never exceed `capacity`.
 */
export class Catalog1763856000000 implements MigrationInterface {
  name = 'Catalog1763856000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);

    await q.query(`
      CREATE TABLE events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organiser_id uuid NOT NULL REFERENCES users (id),
        title text NOT NULL,
        description text NOT NULL DEFAULT '',
        category text NOT NULL,
        venue_name text NOT NULL,
        venue_city text NOT NULL,
        venue_address text NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        timezone text NOT NULL,
        currency char(3) NOT NULL,
        status text NOT NULL DEFAULT 'draft',
        image_key text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        cancelled_at timestamptz,
        CONSTRAINT events_status_check CHECK (status IN ('draft', 'published', 'cancelled')),
        CONSTRAINT events_category_check
          CHECK (category IN ('concert', 'festival', 'theatre', 'sport', 'conference', 'other')),
        CONSTRAINT events_times_check CHECK (ends_at > starts_at),
        -- The listing's "not ended yet" scans starts_at from now minus this bound (LIMITS.maxDurationDays).
        CONSTRAINT events_duration_check CHECK (ends_at - starts_at <= interval '31 days'),
        CONSTRAINT events_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
        CONSTRAINT events_title_length_check CHECK (char_length(title) BETWEEN 1 AND 200),
        CONSTRAINT events_description_length_check CHECK (char_length(description) <= 10000)
      )`);
    // The public listing: published events in (starts_at, id) order, the keyset the cursor walks.
    await q.query(`CREATE INDEX events_published_starts_at_idx ON events (starts_at, id) WHERE status = 'published'`);
    await q.query(
      `CREATE INDEX events_published_category_idx ON events (category, starts_at, id) WHERE status = 'published'`,
    );
    await q.query(
      `CREATE INDEX events_published_city_idx ON events (lower(venue_city), starts_at, id) WHERE status = 'published'`,
    );
    // Title search (`q`): substring matches served by trigrams, whatever the position of the words.
    await q.query(
      `CREATE INDEX events_published_title_trgm_idx ON events USING gin (title gin_trgm_ops) WHERE status = 'published'`,
    );
    // The organiser's own list, newest first.
    await q.query(`CREATE INDEX events_organiser_idx ON events (organiser_id, created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE ticket_types (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        name text NOT NULL,
        price bigint NOT NULL,
        capacity integer NOT NULL,
        sold integer NOT NULL DEFAULT 0,
        held integer NOT NULL DEFAULT 0,
        max_per_order integer NOT NULL DEFAULT 10,
        sales_start_at timestamptz,
        sales_end_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ticket_types_inventory_check CHECK (sold + held <= capacity AND sold >= 0 AND held >= 0),
        CONSTRAINT ticket_types_price_check CHECK (price > 0),
        CONSTRAINT ticket_types_capacity_check CHECK (capacity > 0),
        CONSTRAINT ticket_types_max_per_order_check CHECK (max_per_order BETWEEN 1 AND 100),
        CONSTRAINT ticket_types_sales_window_check
          CHECK (sales_start_at IS NULL OR sales_end_at IS NULL OR sales_end_at > sales_start_at),
        CONSTRAINT ticket_types_name_length_check CHECK (char_length(name) BETWEEN 1 AND 100)
      )`);
    await q.query(`CREATE INDEX ticket_types_event_id_idx ON ticket_types (event_id, created_at, id)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ticket_types`);
    await q.query(`DROP TABLE events`);
  }
}
