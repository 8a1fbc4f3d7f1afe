import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsDefined,
  IsInt,
  IsString,
  IsUUID,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { PageQueryDto } from '../../../common/page-query.dto';
import { IsOmittable } from '../../../common/validation';
import { LIMITS } from '../../events/event.model';
import { ORDER_STATUSES, OrderStatus, TICKET_STATUSES, TicketStatus } from '../order.model';

export class OrderItemInputDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'ticketTypeId must be a UUID' })
  ticketTypeId: string;

  @ApiProperty({ minimum: 1, maximum: LIMITS.maxPerOrder, example: 2 })
  @IsInt({ message: 'quantity must be an integer' })
  @Min(1)
  @Max(LIMITS.maxPerOrder)
  quantity: number;
}

export class CreateOrderDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'eventId must be a UUID' })
  eventId: string;

  @ApiProperty({
    type: [OrderItemInputDto],
    minItems: 1,
    maxItems: LIMITS.maxTicketTypes,
    uniqueItems: true,
    description: 'Each ticket type at most once; all are held or none',
  })
  @IsDefined()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(LIMITS.maxTicketTypes)
  @ArrayUnique((item: { ticketTypeId?: unknown } | null) => (typeof item?.ticketTypeId === 'string' ? item.ticketTypeId.toLowerCase() : item), {
    message: 'items must name each ticket type once',
  })
  @ValidateNested({ each: true })
  @Type(() => OrderItemInputDto)
  items: OrderItemInputDto[];
}

export class PayOrderDto {
  @ApiProperty({ example: 'tok_visa', description: 'From the payment provider; the simulated gateway accepts tok_visa' })
  @IsString()
  @MinLength(1)
  @MaxLength(255)
  paymentToken: string;
}

export class OrderItemDto {
  @ApiProperty({ format: 'uuid' })
  ticketTypeId: string;

  @ApiProperty()
  quantity: number;

  @ApiProperty({ description: 'Minor units of the currency, as held' })
  unitPrice: number;
}

export class TicketDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid' })
  orderId: string;

  @ApiProperty({ format: 'uuid' })
  ticketTypeId: string;

  @ApiProperty({ description: '144 random bits, base64url', example: 'q0u3hN1x5mC3b8lQp2v7Zr4T' })
  code: string;

  @ApiProperty({ enum: TICKET_STATUSES })
  status: TicketStatus;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  checkedInAt: string | null;
}

export class TicketWithQrDto extends TicketDto {
  @ApiProperty({ description: 'SVG document of a QR code of `code`' })
  qrSvg: string;
}

export class OrderDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid' })
  buyerId: string;

  @ApiProperty({ format: 'uuid' })
  eventId: string;

  @ApiProperty({ enum: ORDER_STATUSES })
  status: OrderStatus;

  @ApiProperty({ type: [OrderItemDto] })
  items: OrderItemDto[];

  @ApiProperty({ description: 'Minor units of the currency' })
  total: number;

  @ApiProperty({ example: 'TND' })
  currency: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiPropertyOptional({ format: 'date-time' })
  paidAt?: string;

  @ApiPropertyOptional({ type: [TicketDto], description: 'Once paid' })
  tickets?: TicketDto[];
}

export class OrderPageDto {
  @ApiProperty({ type: [OrderDto] })
  items: OrderDto[];

  @ApiProperty({ nullable: true, type: String })
  nextCursor: string | null;
}

export class TicketTypeSalesDto {
  @ApiProperty({ format: 'uuid' })
  ticketTypeId: string;

  @ApiProperty()
  name: string;

  @ApiProperty()
  capacity: number;

  @ApiProperty()
  sold: number;

  @ApiProperty()
  held: number;

  @ApiProperty()
  available: number;

  @ApiProperty({ description: 'Minor units: what the paid, unrefunded orders of this ticket type bring' })
  revenue: number;
}

export class DisputesSummaryDto {
  @ApiProperty({ description: 'Charges of this event disputed by their cardholder (chargebacks)' })
  count: number;

  @ApiProperty({ description: 'Minor units: the disputed amounts' })
  amount: number;
}

export class OnSaleDto {
  @ApiProperty({ description: "Whether the event's waiting room is on" })
  waitingRoom: boolean;

  @ApiProperty({ description: 'Buyers waiting in the queue' })
  queueLength: number;

  @ApiProperty({ description: 'Buyers admitted so far' })
  admitted: number;

  @ApiProperty({ description: 'The configured admission rate' })
  admitPerMinute: number;

  @ApiProperty({ description: 'Orders placed (seats held) in the last 60 seconds' })
  holdsPerMinute: number;

  @ApiProperty({ description: 'Tickets paid for in the last 60 seconds' })
  salesPerMinute: number;
}

export class SalesReportDto {
  @ApiProperty({ format: 'uuid' })
  eventId: string;

  @ApiProperty({ example: 'TND' })
  currency: string;

  @ApiProperty({ description: 'Tickets sold and not refunded' })
  ticketsSold: number;

  @ApiProperty({ description: 'Minor units: every successful charge' })
  grossRevenue: number;

  @ApiProperty({ description: 'Minor units: every successful refund' })
  refundedAmount: number;

  @ApiProperty({ type: DisputesSummaryDto, description: "Disputes opened at the payment provider against this event's charges" })
  disputes: DisputesSummaryDto;

  @ApiProperty({ type: [TicketTypeSalesDto] })
  byTicketType: TicketTypeSalesDto[];

  @ApiProperty({ type: OnSaleDto, description: 'The on-sale as it happens: queue and pace' })
  onSale: OnSaleDto;
}

export class PaymentIntentDto {
  @ApiProperty({ enum: ['stripe', 'simulated'] })
  provider: string;

  @ApiProperty({ type: String, nullable: true, description: "For Stripe.js' Payment Element; null with the simulated gateway (pay with /pay)" })
  clientSecret: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The publishable key Stripe.js is loaded with; null with the simulated gateway' })
  publishableKey: string | null;

  @ApiProperty({ description: "Minor units: the order's total" })
  amount: number;

  @ApiProperty({ example: 'TND' })
  currency: string;
}

export const SALES_INTERVALS = ['hour', 'day'] as const;

export class SalesTimelineQueryDto {
  @ApiPropertyOptional({ enum: SALES_INTERVALS, description: 'Width of each point; `day` when left out' })
  @IsOmittable()
  @IsIn(SALES_INTERVALS, { message: `interval must be one of ${SALES_INTERVALS.join(', ')}` })
  interval?: (typeof SALES_INTERVALS)[number];
}

export class SalesPointDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the interval, UTC' })
  at: string;

  @ApiProperty({ type: 'integer', description: 'Tickets issued in the interval (a later refund shows as refundedAmount when it happens)' })
  ticketsSold: number;

  @ApiProperty({ type: 'integer', description: 'Minor units: successful charges completed in the interval' })
  grossRevenue: number;

  @ApiProperty({ type: 'integer', description: 'Minor units: successful refunds completed in the interval' })
  refundedAmount: number;
}

export class SalesTimelineDto {
  @ApiProperty({ format: 'uuid' })
  eventId: string;

  @ApiProperty({ example: 'TND' })
  currency: string;

  @ApiProperty({ enum: SALES_INTERVALS })
  interval: (typeof SALES_INTERVALS)[number];

  @ApiProperty({
    type: [SalesPointDto],
    description: 'Oldest first. Intervals in which nothing was sold or refunded are left out (no zero points).',
  })
  points: SalesPointDto[];
}

export class EventOrdersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ORDER_STATUSES })
  @IsOmittable()
  @IsIn(ORDER_STATUSES, { message: `status must be one of ${ORDER_STATUSES.join(', ')}` })
  status?: OrderStatus;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 200,
    description: "Case-insensitive substring of the buyer's e-mail or name, or of the order id",
  })
  @IsOmittable()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  q?: string;
}

export class BuyerSummaryDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ format: 'email' })
  email: string;
}

export class OrderWithBuyerDto extends OrderDto {
  @ApiProperty({ type: BuyerSummaryDto })
  buyer: BuyerSummaryDto;
}

export class OrderWithBuyerPageDto {
  @ApiProperty({ type: [OrderWithBuyerDto] })
  items: OrderWithBuyerDto[];

  @ApiProperty({ nullable: true, type: String })
  nextCursor: string | null;
}
