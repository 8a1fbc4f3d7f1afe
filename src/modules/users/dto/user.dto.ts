import { ApiProperty } from '@nestjs/swagger';
import { ROLES, Role } from '../user.model';
import type { User } from '../users.repository';

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

  static from(user: User): UserDto {
    return { id: user.id, email: user.email, name: user.name, role: user.role, phone: user.phone };
  }
}
