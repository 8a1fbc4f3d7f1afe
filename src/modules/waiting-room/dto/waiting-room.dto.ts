import { ApiProperty } from '@nestjs/swagger';

export class QueueJoinDto {
  @ApiProperty({ format: 'uuid' })
  queueId: string;

  @ApiProperty({ type: Number, nullable: true, description: 'Place among those waiting (1 = next); null before the sales open (places are drawn then) and once admitted' })
  position: number | null;

  @ApiProperty()
  admitted: boolean;

  @ApiProperty({ type: Number, nullable: true, description: 'Seconds until admission, at the current rate (or until the opening, before it)' })
  estimatedWaitSeconds: number | null;

  @ApiProperty({ format: 'date-time', description: 'When the sales open; the queue moves from then on' })
  opensAt: string;
}

export class QueueStatusDto extends QueueJoinDto {
  @ApiProperty({ type: String, nullable: true, description: 'Send as the Admission-Token header of POST /v1/orders; null until admitted' })
  admissionToken: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  admissionExpiresAt: string | null;
}
