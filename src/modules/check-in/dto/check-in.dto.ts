import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsString, MaxLength, MinLength } from 'class-validator';
import { TicketDto } from '../../orders/dto/order.dto';

export class GrantStaffDto {
  @ApiProperty({ example: 'door@example.com', description: 'Whoever registers (or has registered) with this e-mail may work the door' })
  @IsEmail({}, { message: 'email must be an e-mail address' })
  @MaxLength(254)
  email: string;
}

/** The same answer for a registered and an unknown e-mail: it names only the e-mail. */
export class StaffGrantDto {
  @ApiProperty({ format: 'uuid' })
  eventId: string;

  @ApiProperty({ description: 'normalised (trimmed, lower case)' })
  email: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class StaffMemberDto {
  @ApiProperty({ format: 'uuid' })
  eventId: string;

  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'Set once the invitee has worked the door' })
  userId: string | null;

  @ApiProperty()
  email: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class ScanDto {
  @ApiProperty({ description: 'The ticket code read from its QR code', example: 'q0u3hN1x5mC3b8lQp2v7Zr4T' })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  code: string;
}

export class CheckInResultDto {
  @ApiProperty({ enum: ['checked_in'] })
  result: 'checked_in';

  @ApiProperty({ type: TicketDto })
  ticket: TicketDto;

  @ApiProperty({ format: 'date-time' })
  checkedInAt: string;
}

export class ScanAttemptDto {
  @ApiProperty({ format: 'uuid', description: 'Who scanned' })
  scannerId: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: "The ticket, when the code was one of this event's" })
  ticketId: string | null;

  @ApiProperty({ description: 'The code as scanned (its first 256 characters)' })
  code: string;

  @ApiProperty({ enum: ['checked_in', 'already_checked_in', 'void', 'not_found', 'rate_limited'] })
  result: string;

  @ApiProperty({ format: 'date-time' })
  at: string;
}

export class CheckInStatsDto {
  @ApiProperty()
  checkedIn: number;

  @ApiProperty({ description: 'Tickets issued and not void' })
  issued: number;
}
