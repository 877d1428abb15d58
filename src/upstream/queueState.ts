/**
 * Retained queue state on `P/S/queues` (CONTRACT §5), parsed with bounds: the message
 * itself is at most 256 KiB (inboundSizeGuard), and of it only a bounded number of
 * services, each with a bounded id and only the two fields the kiosk shows, is kept.
 * Unknown keys are tolerated and dropped; wrong types or too many services refuse the
 * message whole (the last good state stays).
 */
import { z } from 'zod';

/** More services than an office has counters for: beyond it the message is refused. */
export const MAX_QUEUE_SERVICES = 200;
export const MAX_SERVICE_ID_CHARS = 64;

export const queueStateSchema = z.object({
  v: z.literal(1),
  ts: z.string().max(64),
  services: z
    .record(z.string().min(1).max(MAX_SERVICE_ID_CHARS), z.object({ waiting: z.number().int().min(0), estimatedWaitMin: z.number().min(0).nullable().optional() }))
    .refine((s) => Object.keys(s).length <= MAX_QUEUE_SERVICES, { message: `more than ${MAX_QUEUE_SERVICES} services` }),
});
export type QueueState = z.output<typeof queueStateSchema>;
