import { Body, Controller, Get, HttpCode, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { finished, type Readable } from 'node:stream';
import { DomainError, RateLimitedError, ValidationFailedError } from '../../common/domain-error';
import { sendJson } from '../../common/edge-cache';
import { ApiProblems } from '../../common/openapi';
import { UuidParam } from '../../common/validation';
import { AuthenticatedUser, CurrentUser, Public, Roles } from '../auth/auth.decorators';
import {
  CreateEventDto,
  CreateTicketTypeDto,
  EventDto,
  EventPageDto,
  ImageUrlDto,
  ListEventsQueryDto,
  OrganiserEventsQueryDto,
  TicketTypeDto,
  UpdateEventDto,
  UpdateTicketTypeDto,
} from './dto/event.dto';
import { drainRefusedBody } from '../../common/http/drain-refused-body';
import { MAX_IMAGE_BYTES, PayloadTooLargeError, readAtMost, sniffImageType, UnsupportedImageError } from './event-image';
import { EventsService } from './events.service';
import { UploadSlots } from './upload-slots.service';

const date = (value: string | null | undefined) => (value === undefined ? undefined : value === null ? null : new Date(value));
const requiredDate = (value: string) => new Date(value);

/** Room for the multipart envelope (boundaries, part headers) around a maximal file. */
const MULTIPART_OVERHEAD = 64 * 1024;

@ApiTags('events')
@Controller()
export class EventsController {
  constructor(
    private readonly events: EventsService,
    private readonly uploadSlots: UploadSlots,
  ) {}

  @Post('events')
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Create an event (a draft)' })
  @ApiCreatedResponse({ type: EventDto })
  @ApiProblems(400, 401, 403, 429)
  async create(@CurrentUser() caller: AuthenticatedUser, @Body() body: CreateEventDto): Promise<EventDto> {
    return this.events.create(caller.id, {
      ...body,
      startsAt: requiredDate(body.startsAt),
      endsAt: requiredDate(body.endsAt),
    });
  }

  @Get('events')
  @Public()
  @ApiOperation({ summary: 'Published events, soonest first' })
  @ApiOkResponse({ type: EventPageDto })
  @ApiProblems(400, 429)
  async list(@Query() query: ListEventsQueryDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    // Sent as the bytes the page cache keeps (with their ETag): a hit serialises nothing.
    const page = await this.events.listPublic({
      category: query.category,
      city: query.city,
      q: query.q,
      from: date(query.from) ?? undefined,
      to: date(query.to) ?? undefined,
      limit: query.limit ?? 20,
      cursor: query.cursor,
    });
    return sendJson(reply, page);
  }

  @Get('organiser/events')
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiTags('organiser')
  @ApiOperation({ summary: "The caller's own events, every status, newest first" })
  @ApiOkResponse({ type: EventPageDto })
  @ApiProblems(400, 401, 403, 429)
  async listOwn(@CurrentUser() caller: AuthenticatedUser, @Query() query: OrganiserEventsQueryDto): Promise<EventPageDto> {
    return this.events.listOwn(caller.id, { status: query.status, limit: query.limit ?? 20, cursor: query.cursor });
  }

  @Get('events/:id')
  @Public()
  @ApiOperation({ summary: 'One event: published for everyone; drafts and cancelled for their organiser' })
  @ApiOkResponse({ type: EventDto })
  @ApiProblems(400, 401, [404, 'NOT_FOUND'], 429)
  async get(
    @CurrentUser() caller: AuthenticatedUser | undefined,
    @UuidParam('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    // The bytes serialised once per edit and change of counts, with their ETag (EventCache.readBody).
    return sendJson(reply, await this.events.getBody(caller?.id, id));
  }

  @Patch('events/:id')
  @ApiOperation({ summary: 'Change an event (owner)' })
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiOkResponse({ type: EventDto })
  @ApiProblems(400, 401, 403, 404, [409, 'EVENT_CANCELLED', 'CURRENCY_LOCKED'], 429)
  async update(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @Body() body: UpdateEventDto,
  ): Promise<EventDto> {
    return this.events.update(caller.id, id, {
      ...body,
      startsAt: date(body.startsAt) ?? undefined,
      endsAt: date(body.endsAt) ?? undefined,
    });
  }

  @Post('events/:id/ticket-types')
  @ApiOperation({ summary: 'Add a ticket type (owner)' })
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiCreatedResponse({ type: TicketTypeDto })
  @ApiProblems(400, 401, 403, 404, [409, 'EVENT_CANCELLED'], [422, 'TOO_MANY_TICKET_TYPES'], 429)
  async addTicketType(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @Body() body: CreateTicketTypeDto,
  ): Promise<TicketTypeDto> {
    return this.events.addTicketType(caller.id, id, {
      ...body,
      salesStartAt: date(body.salesStartAt),
      salesEndAt: date(body.salesEndAt),
    });
  }

  @Patch('events/:id/ticket-types/:ticketTypeId')
  @ApiOperation({ summary: 'Change a ticket type (owner)' })
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiOkResponse({ type: TicketTypeDto })
  @ApiProblems(400, 401, 403, 404, [409, 'CAPACITY_BELOW_SOLD', 'EVENT_CANCELLED'], 429)
  async updateTicketType(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @UuidParam('ticketTypeId') ticketTypeId: string,
    @Body() body: UpdateTicketTypeDto,
  ): Promise<TicketTypeDto> {
    return this.events.updateTicketType(caller.id, id, ticketTypeId, {
      ...body,
      salesStartAt: date(body.salesStartAt),
      salesEndAt: date(body.salesEndAt),
    });
  }

  @Post('events/:id/publish')
  @ApiOperation({ summary: 'Publish: the event goes on the catalog (owner)' })
  @HttpCode(200)
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiOkResponse({ type: EventDto })
  @ApiProblems(400, 401, 403, 404, [409, 'EVENT_CANCELLED'], [422, 'NOT_PUBLISHABLE'], 429)
  async publish(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<EventDto> {
    return this.events.publish(caller.id, id);
  }

  @Post('events/:id/cancel')
  @HttpCode(200)
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Cancel: sales stop at once' })
  @ApiOkResponse({ type: EventDto })
  @ApiProblems(400, 401, 403, 404, 429)
  async cancel(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<EventDto> {
    return this.events.cancel(caller.id, id);
  }

  @Put('events/:id/image')
  @Roles('organiser')
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Set or replace the image: JPEG, PNG or WebP (judged by its bytes), at most 5 MiB',
    description: 'Send the image as the raw body (Content-Type image/jpeg, image/png or image/webp) or as multipart field `file`.',
    requestBody: {
      required: true,
      content: {
        'image/jpeg': { schema: { type: 'string', format: 'binary' } },
        'image/png': { schema: { type: 'string', format: 'binary' } },
        'image/webp': { schema: { type: 'string', format: 'binary' } },
        'multipart/form-data': {
          schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] },
        },
      },
    },
  })
  @ApiOkResponse({ type: ImageUrlDto })
  @ApiProblems(400, 401, 403, 404, [409, 'EVENT_CANCELLED'], [413, 'PAYLOAD_TOO_LARGE'], [415, 'UNSUPPORTED_MEDIA_TYPE'], 429)
  async putImage(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ImageUrlDto> {
    await this.events.assertCanChange(caller.id, id);
    const release = await this.takeUploadSlot(caller.id, request, reply);
    // Given back before the answer is sent, so a client that uploads one image after another never
    // finds its last slot still taken.
    try {
      const bytes = await readImageBody(request).catch((error: unknown) => {
        // The rest of the body is read and dropped (bounded), so a client still sending reads the 413.
        if (error instanceof PayloadTooLargeError) drainRefusedBody(request.raw, reply.raw);
        throw error;
      });
      const type = sniffImageType(bytes);
      if (!type) throw new UnsupportedImageError();
      return { imageUrl: await this.events.setImage(caller.id, id, { bytes, type }) };
    } finally {
      release();
    }
  }

  /**
   * One of the caller's upload slots, or a 429 the client can read (its body drained like a 413's).
   * The slot is also given back when the response closes, for a client gone before the body was
   * read (`finished` calls back at once for a response already closed while the slot was taken).
   */
  private async takeUploadSlot(userId: string, request: FastifyRequest, reply: FastifyReply): Promise<() => void> {
    const release = await this.uploadSlots.take(userId).catch((error: unknown) => {
      if (error instanceof RateLimitedError) drainRefusedBody(request.raw, reply.raw);
      throw error;
    });
    finished(reply.raw, () => release());
    return release;
  }
}

/** The upload, from a raw body or the multipart field `file`, refused past 5 MiB before it is all read. */
async function readImageBody(request: FastifyRequest): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (request.isMultipart()) {
    if (declared > MAX_IMAGE_BYTES + MULTIPART_OVERHEAD) throw new PayloadTooLargeError();
    try {
      const part = await request.file({ limits: { fileSize: MAX_IMAGE_BYTES + 1, files: 1, fields: 10, parts: 11 } });
      if (!part || part.fieldname !== 'file') {
        throw new ValidationFailedError([{ field: 'file', message: 'the image goes in the multipart field "file"' }]);
      }
      return await readAtMost(part.file);
    } catch (error) {
      // Busboy's parse errors carry no status; a malformed envelope is the client's mistake.
      if (error instanceof DomainError || hasClientStatus(error)) throw error;
      throw new ValidationFailedError([{ field: 'file', message: `malformed multipart body: ${(error as Error).message}` }]);
    }
  }
  if (declared > MAX_IMAGE_BYTES) throw new PayloadTooLargeError();
  const body = request.body as Readable | undefined;
  if (!body || typeof (body as Readable).pipe !== 'function') throw new UnsupportedImageError();
  return readAtMost(body);
}

function hasClientStatus(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}
