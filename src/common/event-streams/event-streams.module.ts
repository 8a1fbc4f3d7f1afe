import { Global, Module } from '@nestjs/common';
import { EventStreams } from './event-streams.service';

/** The policy every event stream goes through, for the modules that serve one (check-in, waiting room) and those that end them (auth). */
@Global()
@Module({ providers: [EventStreams], exports: [EventStreams] })
export class EventStreamsModule {}
