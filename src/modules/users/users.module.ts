import { Module } from '@nestjs/common';
import { PhoneVerificationService } from './phone-verification.service';
import { PhoneVerificationsRepository } from './phone-verifications.repository';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

@Module({
  controllers: [UsersController],
  providers: [UsersService, UsersRepository, PhoneVerificationService, PhoneVerificationsRepository],
  exports: [UsersService, PhoneVerificationService],
})
export class UsersModule {}
