/** The tallier's HTTP errors (fastify's default reply shape: {statusCode, code, error, message}). */
import createError from '@fastify/error';

export const UnknownPollError = createError<'BV_UNKNOWN_POLL', 404, [string]>(
  'BV_UNKNOWN_POLL',
  'no results for poll %s: the tallier follows no poll with this poll_id (yet); check the id, or wait until its manifest is on the board',
  404,
);

export const UpgradeRequiredError = createError<'BV_WEBSOCKET_UPGRADE_REQUIRED', 426, [string]>(
  'BV_WEBSOCKET_UPGRADE_REQUIRED',
  '%s speaks WebSocket only: send an Upgrade: websocket request, or read /events (Server-Sent Events) or the JSON snapshot instead',
  426,
);
