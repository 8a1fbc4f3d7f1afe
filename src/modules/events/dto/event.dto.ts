import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  ValidationOptions,
} from 'class-validator';
import { isCurrencyCode } from '../../../common/money';
import { PageQueryDto } from '../../../common/page-query.dto';
import { IsOmittable } from '../../../common/validation';
import { canonicalTimeZone, CATEGORIES, Category, EVENT_STATUSES, EventStatus, LIMITS } from '../event.model';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const upper = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toUpperCase() : value);
const zone = ({ value }: { value: unknown }) => canonicalTimeZone(value) ?? value;

/** An instant: ISO 8601 with a time and an explicit offset (`Z` or `+01:00`), never a local time. */
function IsInstant(options?: ValidationOptions) {
  const isoOptions = { strict: true, strictSeparator: true };
  return (target: object, property: string) => {
    IsISO8601(isoOptions, { message: `${property} must be an ISO 8601 date-time`, ...options })(target, property);
    Matches(/T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i, {
      message: `${property} must be a date-time with an offset, such as 2026-07-14T20:00:00Z`,
      ...options,
    })(target, property);
  };
}

function IsIanaTimeZone(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isIanaTimeZone',
      validator: {
        validate: (value) => canonicalTimeZone(value) !== undefined,
        defaultMessage: () => 'timezone must be an IANA time zone name such as Africa/Tunis',
      },
    },
    options,
  );
}

function IsCurrency(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isCurrency',
      validator: {
        validate: (value) => isCurrencyCode(value),
        defaultMessage: () => 'currency must be an ISO 4217 currency code such as TND, EUR or JPY',
      },
    },
    options,
  );
}

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

export class VenueInputDto {
  @ApiProperty({ maxLength: LIMITS.venueName, example: 'Théâtre municipal' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.venueName)
  name: string;

  @ApiProperty({ maxLength: LIMITS.venueCity, example: 'Tunis' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.venueCity)
  city: string;

  @ApiProperty({ maxLength: LIMITS.venueAddress, example: 'Avenue Habib Bourguiba' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.venueAddress)
  address: string;
}

export class VenuePatchDto {
  @ApiPropertyOptional({ maxLength: LIMITS.venueName })
  @IsOmittable()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.venueName)
  name?: string;

  @ApiPropertyOptional({ maxLength: LIMITS.venueCity })
  @IsOmittable()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.venueCity)
  city?: string;

  @ApiPropertyOptional({ maxLength: LIMITS.venueAddress })
  @IsOmittable()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.venueAddress)
  address?: string;
}

export class CreateEventDto {
  @ApiProperty({ maxLength: LIMITS.title, example: 'Jazz à Carthage' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.title)
  title: string;

  @ApiPropertyOptional({ maxLength: LIMITS.description, description: 'Empty when left out' })
  @IsOmittable()
  @IsString()
  @MaxLength(LIMITS.description)
  description?: string;

  @ApiProperty({ enum: CATEGORIES })
  @IsIn(CATEGORIES, { message: `category must be one of: ${CATEGORIES.join(', ')}` })
  category: Category;

  @ApiProperty({ type: VenueInputDto })
  @IsDefined()
  @ValidateNested()
  @Type(() => VenueInputDto)
  venue: VenueInputDto;

  @ApiProperty({ format: 'date-time', example: '2026-07-14T20:00:00Z' })
  @IsInstant()
  startsAt: string;

  @ApiProperty({ format: 'date-time', example: '2026-07-14T23:00:00Z', description: 'After startsAt' })
  @IsInstant()
  endsAt: string;

  @ApiProperty({ example: 'Africa/Tunis', description: 'IANA time zone of the venue' })
  @Transform(zone)
  @IsIanaTimeZone()
  timezone: string;

  @ApiProperty({ example: 'TND', description: 'ISO 4217; prices are integers in its minor unit (TND 3, EUR 2, JPY 0)' })
  @Transform(upper)
  @IsCurrency()
  currency: string;
}

export class WaitingRoomPatchDto {
  @ApiProperty({ description: 'While enabled, POST /v1/orders for the event needs an Admission-Token from its queue' })
  @IsBoolean()
  enabled: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: LIMITS.maxAdmitPerMinute, description: 'Kept when omitted (default 600)' })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxAdmitPerMinute)
  admitPerMinute?: number;
}

export class WaitingRoomDto {
  @ApiProperty()
  enabled: boolean;

  @ApiProperty({ minimum: 1, maximum: LIMITS.maxAdmitPerMinute })
  admitPerMinute: number;
}

export class UpdateEventDto {
  @ApiPropertyOptional({ maxLength: LIMITS.title })
  @IsOmittable()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.title)
  title?: string;

  @ApiPropertyOptional({ maxLength: LIMITS.description })
  @IsOmittable()
  @IsString()
  @MaxLength(LIMITS.description)
  description?: string;

  @ApiPropertyOptional({ enum: CATEGORIES })
  @IsOmittable()
  @IsIn(CATEGORIES, { message: `category must be one of: ${CATEGORIES.join(', ')}` })
  category?: Category;

  @ApiPropertyOptional({ type: VenuePatchDto, description: 'Only the fields given change' })
  @IsOmittable()
  @ValidateNested()
  @Type(() => VenuePatchDto)
  venue?: VenuePatchDto;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOmittable()
  @IsInstant()
  startsAt?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOmittable()
  @IsInstant()
  endsAt?: string;

  @ApiPropertyOptional({ example: 'Africa/Tunis' })
  @IsOmittable()
  @Transform(zone)
  @IsIanaTimeZone()
  timezone?: string;

  @ApiPropertyOptional({ example: 'TND', description: 'Only on a draft without ticket types (409 CURRENCY_LOCKED)' })
  @IsOmittable()
  @Transform(upper)
  @IsCurrency()
  currency?: string;

  @ApiPropertyOptional({ type: WaitingRoomPatchDto, description: 'The on-sale queue (see the waiting-room endpoints)' })
  @IsOmittable()
  @ValidateNested()
  @Type(() => WaitingRoomPatchDto)
  waitingRoom?: WaitingRoomPatchDto;
}

export class CreateTicketTypeDto {
  @ApiProperty({ maxLength: LIMITS.ticketTypeName, example: 'Early bird' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.ticketTypeName)
  name: string;

  @ApiProperty({
    example: 45000,
    description: "Integer, in the event currency's minor unit (45000 TND = 45.000 TND); at most 1 000 000 major units",
  })
  @IsInt({ message: 'price must be an integer number of minor units' })
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  price: number;

  @ApiProperty({ example: 500, maximum: LIMITS.maxCapacity })
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxCapacity)
  capacity: number;

  @ApiPropertyOptional({ minimum: 1, maximum: LIMITS.maxPerOrder, description: '10 when left out' })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxPerOrder)
  maxPerOrder?: number;

  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 1, description: "Most tickets of this type one buyer may hold (paid and pending, all orders); absent or null: no cap" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxCapacity)
  maxPerBuyer?: number | null;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'Absent or null: on sale from publication' })
  @IsOptional()
  @IsInstant()
  salesStartAt?: string | null;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'Absent or null: on sale until the event ends' })
  @IsOptional()
  @IsInstant()
  salesEndAt?: string | null;
}

export class UpdateTicketTypeDto {
  @ApiPropertyOptional({ maxLength: LIMITS.ticketTypeName })
  @IsOmittable()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.ticketTypeName)
  name?: string;

  @ApiPropertyOptional({ description: "Integer, in the event currency's minor unit" })
  @IsOmittable()
  @IsInt({ message: 'price must be an integer number of minor units' })
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  price?: number;

  @ApiPropertyOptional({ description: 'Not below sold + held (409 CAPACITY_BELOW_SOLD)', maximum: LIMITS.maxCapacity })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxCapacity)
  capacity?: number;

  @ApiPropertyOptional({ maximum: LIMITS.maxPerOrder })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxPerOrder)
  maxPerOrder?: number;

  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 1, description: 'null removes the cap' })
  @ValidateIf((_, v) => v !== null && v !== undefined)
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxCapacity)
  maxPerBuyer?: number | null;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'null clears it' })
  @ValidateIf((_, v) => v !== null && v !== undefined)
  @IsInstant()
  salesStartAt?: string | null;

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'null clears it' })
  @ValidateIf((_, v) => v !== null && v !== undefined)
  @IsInstant()
  salesEndAt?: string | null;
}

export class ListEventsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: CATEGORIES })
  @IsOptional()
  @IsIn(CATEGORIES, { message: `category must be one of: ${CATEGORIES.join(', ')}` })
  category?: Category;

  @ApiPropertyOptional({ description: 'Exact city, case-insensitive', example: 'Tunis' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(LIMITS.venueCity)
  city?: string;

  @ApiPropertyOptional({ description: 'Words in the title (substring, case-insensitive)', example: 'jazz' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  q?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'startsAt at or after; without it, events that have not ended yet',
  })
  @IsOptional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'startsAt at or before' })
  @IsOptional()
  @IsInstant()
  to?: string;
}

export class OrganiserEventsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: EVENT_STATUSES })
  @IsOptional()
  @IsIn(EVENT_STATUSES, { message: `status must be one of: ${EVENT_STATUSES.join(', ')}` })
  status?: EventStatus;
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

export class VenueDto {
  @ApiProperty({ example: 'Théâtre municipal' })
  name: string;

  @ApiProperty({ example: 'Tunis' })
  city: string;

  @ApiProperty({ example: 'Avenue Habib Bourguiba' })
  address: string;
}

export class TicketTypeDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'Early bird' })
  name: string;

  @ApiProperty({ example: 45000, description: 'Minor units of `currency`' })
  price: number;

  @ApiProperty({ example: 'TND' })
  currency: string;

  @ApiProperty({ example: 500 })
  capacity: number;

  @ApiProperty({ example: 120, description: 'capacity − sold − held; at most a second old' })
  available: number;

  @ApiProperty({ example: 10 })
  maxPerOrder: number;

  @ApiProperty({ type: Number, example: 4, nullable: true, description: 'null: no per-buyer cap' })
  maxPerBuyer: number | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  salesStartAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  salesEndAt: string | null;
}

export class EventDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid' })
  organiserId: string;

  @ApiProperty()
  title: string;

  @ApiProperty()
  description: string;

  @ApiProperty({ enum: CATEGORIES })
  category: Category;

  @ApiProperty({ type: VenueDto })
  venue: VenueDto;

  @ApiProperty({ format: 'date-time' })
  startsAt: string;

  @ApiProperty({ format: 'date-time' })
  endsAt: string;

  @ApiProperty({ example: 'Africa/Tunis' })
  timezone: string;

  @ApiProperty({ example: 'TND' })
  currency: string;

  @ApiProperty({ enum: EVENT_STATUSES })
  status: EventStatus;

  @ApiProperty({ type: String, nullable: true, description: 'CDN URL or presigned GET; never a public bucket' })
  imageUrl: string | null;

  @ApiProperty({ type: [TicketTypeDto] })
  ticketTypes: TicketTypeDto[];

  @ApiProperty({ type: WaitingRoomDto })
  waitingRoom: WaitingRoomDto;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
}

export class EventPageDto {
  @ApiProperty({ type: [EventDto] })
  items: EventDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor: string | null;
}

export class ImageUrlDto {
  @ApiProperty({ example: 'https://cdn.example.com/events/…/….jpg' })
  imageUrl: string;
}
