import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { AuthConfig } from '../../config';
import { UsersModule } from '../users/users.module';
import { AuthController } from './auth.controller';
import { AuthRepository } from './auth.repository';
import { AuthService } from './auth.service';
import { LoginAttempts } from './login-attempts.service';
import { Sessions } from './sessions.service';
import { JwtStrategy } from './jwt.strategy';
import { PasswordHasher } from './password-hasher';

@Module({
  imports: [
    UsersModule,
    PassportModule,
    JwtModule.registerAsync({
      inject: [AuthConfig],
      useFactory: (auth: AuthConfig) => ({
        // A KeyObject, not the string: given a string, jsonwebtoken first tries to parse it as a PEM
        // public/private key on every sign and verify, and that failed parse cost more than the rest
        // of the request (a CPU profile of bench:flash-sale: 45 % of the app's busy time).
        secret: createSecretKey(Buffer.from(auth.jwtSecret)),
        signOptions: { algorithm: 'HS256', issuer: auth.issuer, audience: auth.audience },
        verifyOptions: { algorithms: ['HS256'], issuer: auth.issuer, audience: auth.audience },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, Sessions, LoginAttempts, AuthRepository, PasswordHasher, JwtStrategy],
  exports: [AuthService, JwtModule],
})
export class AuthModule {}
