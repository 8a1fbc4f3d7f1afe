import type { StreamBody } from '../../common/event-streams/event-streams.service';
import { QueueFeed } from './queue-feed';
import { QueueStatus } from './waiting-room.service';

export interface QueueStreamTarget {
  buyerId: string;
  eventId: string;
  queueId: string;
}

/** The stream's scope: one queue entry. */
export const queueStreamScope = (queueId: string) => `queue:${queueId}`;

/**
 * The logic of `GET …/queue/{queueId}/stream`, run under the stream policy (EventStreams): a
 * `position` event whenever the place changes and one `admitted` event with the token (then it
 * ends); the feed ends it too at shutdown.
 */
export function queueStream(feed: QueueFeed, target: QueueStreamTarget): StreamBody {
  return (sse, end) => {
    const send = (status: QueueStatus) => {
      if (sse.ended) return;
      if (status.admitted) {
        sse.send('admitted', { queueId: status.queueId, admissionToken: status.admissionToken, admissionExpiresAt: status.admissionExpiresAt });
        end();
        return;
      }
      sse.send('position', { queueId: status.queueId, position: status.position, estimatedWaitSeconds: status.estimatedWaitSeconds });
    };
    return feed.watch(target.buyerId, target.eventId, target.queueId, send, end);
  };
}
