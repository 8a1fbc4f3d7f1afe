import { Global, Module } from '@nestjs/common';
import { BackgroundWorkers } from './background-workers';
import { ShutdownState } from './shutdown-state';

/** The instance's lifecycle, shared by every module: draining at SIGTERM, and the background loops it stops. */
@Global()
@Module({ providers: [ShutdownState, BackgroundWorkers], exports: [ShutdownState, BackgroundWorkers] })
export class LifecycleModule {}
