import { Body, Controller, Delete, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EventStreams } from '../../common/event-streams/event-streams.service';
import { ApiProblems } from '../../common/openapi';
import { UuidParam } from '../../common/validation';
import { CheckInConfig } from '../../config';
import { AuthenticatedUser, CurrentUser, Roles } from '../auth/auth.decorators';
import { CheckInFeed, checkInStreamScope } from './check-in-feed';
import { CheckInService } from './check-in.service';
import { DoorAccess } from './door-access.service';
import { DoorStaff } from './door-staff.service';
import { CheckInResultDto, CheckInStatsDto, GrantStaffDto, ScanAttemptDto, ScanDto, StaffGrantDto, StaffMemberDto } from './dto/check-in.dto';

@ApiTags('check-in')
@ApiBearerAuth()
@Controller('events/:id')
export class CheckInController {
  constructor(
    private readonly checkIn: CheckInService,
    private readonly doorStaff: DoorStaff,
    private readonly access: DoorAccess,
    private readonly feed: CheckInFeed,
    private readonly config: CheckInConfig,
    private readonly streams: EventStreams,
  ) {}

  @Post('staff')
  @Roles('organiser')
  @ApiOperation({
    summary: 'Give an e-mail check-in rights for this event (owner only)',
    description:
      'The same answer whether or not the e-mail has an account (it tells nobody who is registered): the user with that ' +
      'e-mail, now or once registered, may check tickets in; the grant is claimed the first time they do.',
  })
  @ApiCreatedResponse({ type: StaffGrantDto })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async grant(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string, @Body() body: GrantStaffDto): Promise<StaffGrantDto> {
    const grant = await this.doorStaff.grant(caller.id, id, body.email);
    return { ...grant, createdAt: grant.createdAt.toISOString() };
  }

  @Delete('staff')
  @Roles('organiser')
  @HttpCode(204)
  @ApiOperation({ summary: 'Withdraw the grant of an e-mail, claimed or not (owner only)' })
  @ApiNoContentResponse()
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async withdraw(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string, @Query() query: GrantStaffDto): Promise<void> {
    await this.doorStaff.withdraw(caller.id, id, query.email);
  }

  @Get('staff')
  @Roles('organiser')
  @ApiOperation({ summary: "The event's door staff (owner only)" })
  @ApiOkResponse({ type: [StaffMemberDto] })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async staff(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<StaffMemberDto[]> {
    return (await this.doorStaff.list(caller.id, id)).map((m) => ({ ...m, createdAt: m.createdAt.toISOString() }));
  }

  @Delete('staff/:userId')
  @Roles('organiser')
  @HttpCode(204)
  @ApiOperation({ summary: "End a user's check-in rights for this event (owner only)" })
  @ApiNoContentResponse()
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async revoke(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string, @UuidParam('userId') userId: string): Promise<void> {
    await this.doorStaff.revoke(caller.id, id, userId);
  }

  @Post('check-ins')
  @Roles('organiser', 'buyer', 'admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Scan a ticket code at the door (owner or staff): a ticket counts once' })
  @ApiOkResponse({ type: CheckInResultDto })
  @ApiProblems(400, 401, [404, 'NOT_FOUND', 'TICKET_NOT_FOUND'], [409, 'ALREADY_CHECKED_IN', 'TICKET_VOID'], 429)
  async scan(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string, @Body() body: ScanDto): Promise<CheckInResultDto> {
    return this.checkIn.scan(caller.id, id, body.code);
  }

  @Get('check-ins/stats')
  @Roles('organiser', 'buyer', 'admin')
  @ApiOperation({ summary: 'Checked-in and issued tickets (owner or staff)' })
  @ApiOkResponse({ type: CheckInStatsDto })
  @ApiProblems(400, 401, [404, 'NOT_FOUND'], 429)
  async stats(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<CheckInStatsDto> {
    return this.checkIn.stats(caller.id, id);
  }

  @Get('check-ins/attempts')
  @Roles('organiser')
  @ApiOperation({ summary: "The door's audit trail: the latest 100 scan attempts, with scanner and result (owner only)" })
  @ApiOkResponse({ type: [ScanAttemptDto], description: 'Newest first' })
  @ApiProblems(400, 401, 403, [404, 'NOT_FOUND'], 429)
  async attempts(@CurrentUser() caller: AuthenticatedUser, @UuidParam('id') id: string): Promise<ScanAttemptDto[]> {
    return this.checkIn.attempts(caller.id, id, 100);
  }

  /**
   * Server-sent events: one `check-in` event per successful scan on any instance, under the stream
   * policy (EventStreams: bounds, lifetime, revocation), and ended when the caller's door right ends.
   */
  @Get('check-ins/stream')
  @Roles('organiser', 'buyer', 'admin')
  @ApiOperation({ summary: 'Live check-ins of this event as server-sent events (owner or staff)' })
  @ApiOkResponse({
    description: '`event: check-in` with `data: {eventId, ticketId, ticketTypeId, checkedInAt, scannedBy}`; `: heartbeat` comments',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiProblems(400, 401, [404, 'NOT_FOUND'], 429)
  async stream(
    @CurrentUser() caller: AuthenticatedUser,
    @UuidParam('id') id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.access.assertDoor(caller.id, id);
    const spec = { caller, heartbeatMs: this.config.streamHeartbeatMs, scope: checkInStreamScope(id) };
    await this.streams.start(request, reply, spec, (sse, end) =>
      this.feed.listen(id, (update) => sse.send('check-in', update, update.ticketId), end),
    );
  }
}
