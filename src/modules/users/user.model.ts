export type Role = 'buyer' | 'organiser' | 'admin';
export const ROLES: readonly Role[] = ['buyer', 'organiser', 'admin'];
