import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../../common/openapi';
import { AuthenticatedUser, CurrentUser } from '../auth/auth.decorators';
import { UserDto } from './dto/user.dto';
import { UsersService } from './users.service';

@ApiTags('users')
@ApiBearerAuth()
@Controller({ path: 'me' })
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOperation({ summary: "The caller's account" })
  @ApiOkResponse({ type: UserDto })
  @ApiProblems(401, 429)
  async me(@CurrentUser() caller: AuthenticatedUser): Promise<UserDto> {
    return UserDto.from(await this.users.get(caller.id));
  }
}
