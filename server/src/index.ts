/** @blindvote/server: the `blindvote` command and the all-in-one service it runs. */
export { buildService } from './app.ts';
export type { Service } from './app.ts';
export { ConfigError, loadConfig, VARIABLES } from './config.ts';
export type { Config, IdpConfig } from './config.ts';
export { Api, ApiError, awaitTally, pool, publishPoll } from './client.ts';
export type { PollSpec } from './client.ts';
export { simulate } from './simulate.ts';
export type { SimulateOptions, SimulateSummary } from './simulate.ts';
