import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { NoStore } from '../../common/no-store';
import { ApiProblems } from '../../common/openapi';
import { AuthenticatedUser, CurrentUser, Public } from './auth.decorators';
import { AuthService } from './auth.service';
import { Budgeted, LimitPerClientIp } from './request-budgets';
import { AuthResponseDto, LoginDto, RefreshDto, RegisterDto } from './dto/auth.dto';

@ApiTags('auth')
@NoStore()
@Controller({ path: 'auth' })
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @LimitPerClientIp()
  @Budgeted('registration')
  @Post('register')
  @ApiOperation({ summary: 'Create an account (buyer or organiser) and log in' })
  @ApiCreatedResponse({ type: AuthResponseDto })
  @ApiProblems(400, [409, 'EMAIL_TAKEN'], 429)
  async register(@Body() body: RegisterDto): Promise<AuthResponseDto> {
    return AuthResponseDto.from(
      await this.auth.register({ email: body.email, password: body.password, name: body.name, role: body.role, phone: body.phone }),
    );
  }

  @Public()
  @LimitPerClientIp()
  @Post('login')
  @ApiOperation({ summary: 'Log in with e-mail and password' })
  @HttpCode(200)
  @ApiOkResponse({ type: AuthResponseDto })
  @ApiProblems(400, [401, 'INVALID_CREDENTIALS'], [429, 'RATE_LIMITED'])
  async login(@Body() body: LoginDto): Promise<AuthResponseDto> {
    return AuthResponseDto.from(await this.auth.login(body.email, body.password));
  }

  @Public()
  @LimitPerClientIp()
  @Post('refresh')
  @ApiOperation({ summary: 'Trade a refresh token for a new pair' })
  @HttpCode(200)
  @ApiOkResponse({ type: AuthResponseDto, description: 'A new pair; the presented refresh token is spent' })
  @ApiProblems(400, [401, 'UNAUTHENTICATED'], 429)
  async refresh(@Body() body: RefreshDto): Promise<AuthResponseDto> {
    return AuthResponseDto.from(await this.auth.refresh(body.refreshToken));
  }

  @Post('logout')
  @ApiOperation({ summary: 'Log out: revoke this access token and its login' })
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiNoContentResponse({ description: 'The access token and its login are revoked on every instance' })
  @ApiProblems(401, 429)
  async logout(@CurrentUser() caller: AuthenticatedUser): Promise<void> {
    await this.auth.logout(caller);
  }
}
