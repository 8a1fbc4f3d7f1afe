import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../../common/openapi';
import { AuthenticatedUser, CurrentUser } from '../auth/auth.decorators';
import { PhoneCodeSentDto, RequestPhoneCodeDto, VerifyPhoneDto } from './dto/phone-verification.dto';
import { UserDto } from './dto/user.dto';
import { PhoneVerificationService } from './phone-verification.service';
import { UsersService } from './users.service';

@ApiTags('users')
@ApiBearerAuth()
@Controller({ path: 'me' })
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly phones: PhoneVerificationService,
  ) {}

  @Get()
  @ApiOperation({ summary: "The caller's account" })
  @ApiOkResponse({ type: UserDto })
  @ApiProblems(401, 429)
  async me(@CurrentUser() caller: AuthenticatedUser): Promise<UserDto> {
    return UserDto.from(await this.users.get(caller.id));
  }

  @Post('phone/verification')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a verification code by SMS',
    description:
      'A six-digit code, valid 10 minutes, to `phone` (which becomes the number on file, unverified if new) or to the number on file. ' +
      'At most 3 codes an hour per account and per number (`429 RATE_LIMITED`, `Retry-After`). SMS go only to a verified number.',
  })
  @ApiAcceptedResponse({ type: PhoneCodeSentDto })
  @ApiProblems(400, 401, [409, 'PHONE_ALREADY_VERIFIED'], 429)
  requestCode(@CurrentUser() caller: AuthenticatedUser, @Body() body: RequestPhoneCodeDto): Promise<PhoneCodeSentDto> {
    return this.phones.requestCode(caller.id, body.phone);
  }

  @Post('phone/verify')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Verify the phone with the code sent by SMS',
    description:
      'A wrong code is `422 INVALID_CODE` (5 attempts per code); a code that expired, took its last wrong attempt or was replaced is `422 CODE_EXPIRED`.',
  })
  @ApiOkResponse({ type: UserDto })
  @ApiProblems(400, 401, [422, 'INVALID_CODE', 'CODE_EXPIRED'], 429)
  async verify(@CurrentUser() caller: AuthenticatedUser, @Body() body: VerifyPhoneDto): Promise<UserDto> {
    return UserDto.from(await this.phones.verify(caller.id, body.code));
  }
}
