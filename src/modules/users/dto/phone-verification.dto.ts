import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches } from 'class-validator';
import { E164, E164_MESSAGE } from './user.dto';

export class RequestPhoneCodeDto {
  @ApiPropertyOptional({ example: '+21612345678', pattern: E164.source, description: 'E.164. Sets or changes the number on file (a new number is unverified); without it, the number on file.' })
  @IsOptional()
  @IsString()
  @Matches(E164, { message: E164_MESSAGE })
  phone?: string;
}

export class PhoneCodeSentDto {
  @ApiProperty({ example: '+21612345678', description: 'The number the code was sent to' })
  phone: string;

  @ApiProperty({ example: 600, description: 'Seconds the code stays valid' })
  expiresIn: number;
}

export class VerifyPhoneDto {
  @ApiProperty({ example: '042917', pattern: '^\\d{6}$', description: 'The six digits of the SMS' })
  @IsString()
  @Matches(/^\d{6}$/, { message: 'code must be the six digits sent by SMS' })
  code: string;
}
