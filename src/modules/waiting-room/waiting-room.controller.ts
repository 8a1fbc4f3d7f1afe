import { Controller, Get, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EventStreams } from '../../common/event-streams/event-streams.service';
import { ApiProblems } from '../../common/openapi';
import { UuidParam } from '../../common/validation';
import { WaitingRoomConfig } from '../../config';
import { AuthenticatedUser, CurrentUser, Roles } from '../auth/auth.decorators';
import { QueueJoinDto, QueueStatusDto } from './dto/waiting-room.dto';
import { QueueFeed } from './queue-feed';
import { queueStream, queueStreamScope } from './queue-stream';
import { QueueStatus, WaitingRoomService } from './waiting-room.service';

const joinView = ({ admissionToken: _t, admissionExpiresAt: _e, ...rest }: QueueStatus): QueueJoinDto => rest;

@ApiTags('waiting-room')
@ApiBearerAuth()
@Controller('events/:id/queue')
export class WaitingRoomController {
  constructor(
    private readonly rooms: WaitingRoomService,
    private readonly feed: QueueFeed,
    private readonly config: WaitingRoomConfig,
    private readonly streams: EventStreams,
  ) {}

  @Post()
  @Roles('buyer')
  @ApiOperation({ summary: "Join the event's waiting room (201); joining again gives the same entry (200)" })
  @ApiCreatedResponse({ type: QueueJoinDto })
  @ApiOkResponse({ type: QueueJoinDto })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], [409, 'NO_WAITING_ROOM'], 429)
  async join(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<QueueJoinDto> {
    const { status, created } = await this.rooms.join(caller.id, id);
    void reply.status(created ? 201 : 200);
    return joinView(status);
  }

  @Get(':queueId')
  @Roles('buyer')
  @ApiOperation({ summary: 'Your place in the queue, and your admission token once admitted' })
  @ApiOkResponse({ type: QueueStatusDto })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async status(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @UuidParam('queueId') queueId: string,
  ): Promise<QueueStatusDto> {
    return this.rooms.status(caller.id, id, queueId);
  }

  @Get(':queueId/stream')
  @Roles('buyer')
  @ApiOperation({ summary: 'Your queue entry as server-sent events: `position` when it moves, then `admitted` with the token' })
  @ApiOkResponse({
    description: '`event: position` `data: {queueId, position, estimatedWaitSeconds}`; `event: admitted` `data: {queueId, admissionToken, admissionExpiresAt}`',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async stream(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @UuidParam('queueId') queueId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.rooms.status(caller.id, id, queueId); // 404 before the stream starts
    const spec = { caller, heartbeatMs: this.config.streamHeartbeatMs, scope: queueStreamScope(queueId) };
    await this.streams.start(request, reply, spec, queueStream(this.feed, { buyerId: caller.id, eventId: id, queueId }));
  }
}
