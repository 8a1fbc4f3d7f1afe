import { Body, Controller, Get, Headers, HttpCode, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ValidationFailedError } from '../../common/domain-error';
import { ApiProblems } from '../../common/openapi';
import { PageQueryDto } from '../../common/page-query.dto';
import { UuidParam } from '../../common/validation';
import { AuthenticatedUser, CurrentUser, Roles } from '../auth/auth.decorators';
import { Budgeted } from '../auth/request-budgets';
import {
  CreateOrderDto,
  EventOrdersQueryDto,
  OrderDto,
  OrderPageDto,
  OrderWithBuyerPageDto,
  PaymentIntentDto,
  PayOrderDto,
  SalesReportDto,
  SalesTimelineDto,
  SalesTimelineQueryDto,
  TicketWithQrDto,
} from './dto/order.dto';
import { CancellationsService } from './cancellations.service';
import { HoldsService } from './holds.service';
import { OrderPaymentsService } from './order-payments.service';
import { OrderQueriesService } from './order-queries.service';
import { RefundsService } from './refunds.service';
import { WaitingRoomService } from '../waiting-room/waiting-room.service';

const MAX_KEY_LENGTH = 255;

function idempotencyKeyOf(value: string | undefined): string {
  if (value === undefined || value.length === 0 || value.length > MAX_KEY_LENGTH) {
    throw new ValidationFailedError([
      { field: 'Idempotency-Key', message: `the Idempotency-Key header is required, 1 to ${MAX_KEY_LENGTH} characters` },
    ]);
  }
  return value;
}

@ApiTags('orders')
@ApiBearerAuth()
@Controller()
export class OrdersController {
  constructor(
    private readonly holds: HoldsService,
    private readonly payments: OrderPaymentsService,
    private readonly cancellations: CancellationsService,
    private readonly refunds: RefundsService,
    private readonly queries: OrderQueriesService,
    private readonly waitingRoom: WaitingRoomService,
  ) {}

  @Post('orders')
  @Roles('buyer')
  @ApiOperation({
    summary: 'Hold seats: a pending order, all items or none',
    description:
      'Replays of the same Idempotency-Key and body answer the first answer again (with `Idempotent-Replayed: true`); ' +
      'a replay that arrives while the first request runs waits for it.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: true,
    description: 'Chosen by the client per order attempt',
    schema: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH },
  })
  @ApiHeader({
    name: 'Admission-Token',
    required: false,
    description: "While the event's waiting room is enabled: the buyer's admission for this event (403 ADMISSION_REQUIRED without one)",
    schema: { type: 'string' },
  })
  @ApiCreatedResponse({ type: OrderDto })
  @ApiProblems(
    400,
    401,
    [403, 'FORBIDDEN', 'ADMISSION_REQUIRED'],
    404,
    [409, 'SOLD_OUT', 'TOO_MANY_PENDING_ORDERS'],
    [422, 'QUANTITY_LIMIT', 'SALES_CLOSED', 'IDEMPOTENCY_KEY_REUSED', 'BUYER_LIMIT'],
    429,
  )
  async place(
    @CurrentUser() caller: AuthenticatedUser,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('admission-token') admissionToken: string | undefined,
    @Body() body: CreateOrderDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderDto> {
    const idempotencyKey = idempotencyKeyOf(key);
    // Before the idempotency and hold path: a refused admission holds nothing and stores no answer.
    await this.waitingRoom.assertMayOrder(caller.id, body.eventId, admissionToken);
    const placed = await this.holds.place(caller.id, idempotencyKey, {
      eventId: body.eventId,
      items: body.items.map((i) => ({ ticketTypeId: i.ticketTypeId, quantity: i.quantity })),
    });
    if (placed.replayed) void reply.header('Idempotent-Replayed', 'true');
    return placed.order;
  }

  @Get('orders')
  @Roles('buyer')
  @ApiOperation({ summary: "The caller's orders, newest first" })
  @ApiOkResponse({ type: OrderPageDto })
  @ApiProblems(400, 401, 403, 429)
  async list(@CurrentUser() caller: AuthenticatedUser, @Query() query: PageQueryDto): Promise<OrderPageDto> {
    return this.queries.list(caller.id, { limit: query.limit ?? 20, cursor: query.cursor });
  }

  @Get('orders/:id')
  @Roles('buyer')
  @ApiOperation({ summary: 'One of the caller\'s orders, with its tickets once paid' })
  @ApiOkResponse({ type: OrderDto })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async get(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<OrderDto> {
    return this.queries.get(caller.id, id);
  }

  @Post('orders/:id/pay')
  @Roles('buyer')
  @Budgeted('payment')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pay a pending order; on success the seats are sold and tickets issued' })
  @ApiOkResponse({ type: OrderDto })
  @ApiProblems(
    400,
    401,
    [402, 'PAYMENT_DECLINED', 'PAYMENT_ACTION_REQUIRED'],
    403,
    404,
    [409, 'HOLD_EXPIRED', 'ORDER_NOT_PENDING'],
    429,
    [503, 'PAYMENT_UNAVAILABLE'],
  )
  async pay(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string, @Body() body: PayOrderDto): Promise<OrderDto> {
    return this.payments.pay(caller.id, id, body.paymentToken);
  }

  @Post('orders/:id/payment-intent')
  @Roles('buyer')
  @Budgeted('payment')
  @HttpCode(200)
  @ApiOperation({
    summary: "The order's payment at the provider, for the browser to confirm",
    description:
      'Created on the first call, the same one on every later call while the order is pending. With Stripe, confirm it with ' +
      'Stripe.js (clientSecret, publishableKey) and poll GET /v1/orders/{id} until it is paid; with the simulated gateway ' +
      'clientSecret and publishableKey are null and the client pays with /pay.',
  })
  @ApiOkResponse({ type: PaymentIntentDto })
  @ApiProblems(400, 401, 403, 404, [409, 'ORDER_NOT_PENDING'], 429, [503, 'PAYMENT_UNAVAILABLE'])
  async paymentIntent(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<PaymentIntentDto> {
    return this.payments.prepare(caller.id, id);
  }

  @Post('orders/:id/cancel')
  @Roles('buyer')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a pending order; its seats go back on sale' })
  @ApiOkResponse({ type: OrderDto })
  @ApiProblems(400, 401, 403, 404, [409, 'ORDER_NOT_PENDING'], 429)
  async cancel(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<OrderDto> {
    return this.cancellations.cancel(caller.id, id);
  }

  @Post('orders/:id/refund')
  @Roles('buyer', 'organiser')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Refund a paid order: by its buyer before the event starts, or by the event\'s organiser',
    description: 'Tickets become void. Before the event starts the seats go back on sale; after, they are withdrawn.',
  })
  @ApiOkResponse({ type: OrderDto })
  @ApiProblems(400, 401, 403, 404, [409, 'ORDER_NOT_PAID', 'TICKET_USED'], [422, 'REFUND_WINDOW_CLOSED'], 429, [503, 'PAYMENT_UNAVAILABLE'])
  async refund(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<OrderDto> {
    return this.refunds.refund(caller, id);
  }

  @Get('orders/:id/tickets')
  @Roles('buyer')
  @ApiOperation({ summary: 'The tickets of one of the caller\'s orders, each with an SVG QR code of its code' })
  @ApiOkResponse({ type: [TicketWithQrDto] })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async tickets(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<TicketWithQrDto[]> {
    return this.queries.tickets(caller.id, id);
  }

  @Get('events/:id/sales')
  @Roles('organiser')
  @ApiTags('organiser')
  @ApiOperation({ summary: 'Sales of one of the caller\'s events, from the inventory and the payments' })
  @ApiOkResponse({ type: SalesReportDto })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async sales(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<SalesReportDto> {
    return this.queries.sales(caller.id, id);
  }

  @Get('events/:id/sales/timeline')
  @Roles('organiser')
  @ApiTags('organiser')
  @ApiOperation({
    summary: "Sales of one of the caller's events over time, per hour or day (UTC)",
    description: 'Each point starts its interval; intervals in which nothing was sold or refunded are left out.',
  })
  @ApiOkResponse({ type: SalesTimelineDto })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async salesTimeline(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @Query() query: SalesTimelineQueryDto,
  ): Promise<SalesTimelineDto> {
    return this.queries.salesTimeline(caller.id, id, query.interval ?? 'day');
  }

  @Get('events/:id/orders')
  @Roles('organiser')
  @ApiTags('organiser')
  @ApiOperation({
    summary: "The orders of one of the caller's events, newest first, each with its buyer",
    description: "`q` matches the buyer's e-mail or name (case-insensitive substring) or the order id; `status` filters.",
  })
  @ApiOkResponse({ type: OrderWithBuyerPageDto })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async eventOrders(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @Query() query: EventOrdersQueryDto,
  ): Promise<OrderWithBuyerPageDto> {
    return this.queries.eventOrders(caller.id, id, { status: query.status, q: query.q, limit: query.limit ?? 20, cursor: query.cursor });
  }
}
