import { AuthSessionEntity } from '../modules/auth/auth-session.entity';
import { RefreshTokenEntity } from '../modules/auth/refresh-token.entity';
import { UserEntity } from '../modules/users/user.entity';

/** Every mapped table; the schema itself is owned by the reviewed SQL in `migrations/`. */
export const ENTITIES = [UserEntity, AuthSessionEntity, RefreshTokenEntity];
