/** @blindvote/server: the `blindvote` command and the all-in-one service it runs. */
export { buildService } from './app.ts';
export type { Service } from './app.ts';
export { ConfigError, loadConfig, VARIABLES } from './config.ts';
export type { Config, IdpConfig } from './config.ts';
export { Api, ApiError, simulate } from './simulate.ts';
export type { SimulateOptions, SimulateSummary } from './simulate.ts';
