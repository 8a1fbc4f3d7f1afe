import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { E164, E164_MESSAGE, UserDto } from '../../users/dto/user.dto';
import type { AuthResult } from '../auth.service';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class RegisterDto {
  @ApiProperty({ format: 'email', maxLength: 254, example: 'ada@example.com' })
  @Transform(trim)
  @IsEmail({}, { message: 'email must be an e-mail address' })
  @MaxLength(254)
  email: string;

  @ApiProperty({ minLength: 12, maxLength: 256, example: 'correct horse battery staple' })
  @IsString()
  @MinLength(12)
  @MaxLength(256)
  password: string;

  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Ada Lovelace' })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name: string;

  @ApiProperty({ enum: ['buyer', 'organiser'], description: 'admin is never self-service' })
  @IsIn(['buyer', 'organiser'], { message: 'role must be one of: buyer, organiser' })
  role: 'buyer' | 'organiser';

  @ApiPropertyOptional({ example: '+21612345678', description: 'E.164' })
  @IsOptional()
  @IsString()
  @Matches(E164, { message: E164_MESSAGE })
  phone?: string;
}

export class LoginDto {
  @ApiProperty({ format: 'email', example: 'ada@example.com' })
  @Transform(trim)
  @IsEmail({}, { message: 'email must be an e-mail address' })
  @MaxLength(254)
  email: string;

  @ApiProperty({ example: 'correct horse battery staple' })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  password: string;
}

export class RefreshDto {
  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(512)
  refreshToken: string;
}

export class AuthResponseDto {
  @ApiProperty({ type: UserDto })
  user: UserDto;

  @ApiProperty({ description: 'JWT (HS256), sent as `Authorization: Bearer <accessToken>`' })
  accessToken: string;

  @ApiProperty({ description: 'Opaque; single use: each refresh spends it and returns a new one' })
  refreshToken: string;

  @ApiProperty({ example: 900, description: "The access token's lifetime in seconds" })
  expiresIn: number;

  static from(result: AuthResult): AuthResponseDto {
    return {
      user: UserDto.from(result.user),
      accessToken: result.accessToken,
      refreshToken: result.refreshToken,
      expiresIn: result.expiresIn,
    };
  }
}
