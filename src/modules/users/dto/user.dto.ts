import { ApiProperty } from '@nestjs/swagger';
import { ROLES, Role } from '../user.model';
import type { User } from '../users.repository';

/** An E.164 number, as registration and phone verification take it. */
export const E164 = /^\+[1-9]\d{1,14}$/;
export const E164_MESSAGE = 'phone must be an E.164 number such as +21612345678';

export class UserDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'email', example: 'ada@example.com' })
  email: string;

  @ApiProperty({ example: 'Ada Lovelace' })
  name: string;

  @ApiProperty({ enum: ROLES })
  role: Role;

  @ApiProperty({ type: String, nullable: true, example: '+21612345678', description: 'E.164' })
  phone: string | null;

  @ApiProperty({ description: 'Whether `phone` was verified by a code sent to it; SMS go only to a verified phone. A new number is unverified.' })
  phoneVerified: boolean;

  static from(user: User): UserDto {
    return { id: user.id, email: user.email, name: user.name, role: user.role, phone: user.phone, phoneVerified: user.phoneVerified };
  }
}
