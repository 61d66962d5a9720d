// The `window._klaviyo` global, typed, for TypeScript sites that paste the snippet and push: not part of the bundle
// (nothing imports it), only of the published types (tsconfig.build.json emits it as dist/types/global.d.ts). A site
// opts in with `/// <reference types="klaviyo-snippet/global" />` or `"types": ["klaviyo-snippet/global"]`, since a
// package's global augmentation should never arrive just because something imported the module.
// Left out of tsconfig.json (the project's own typecheck): src/index.ts types `_klaviyo` its own way, as the untyped
// thing a host page may have put there; tsconfig.build.json compiles this file, and test/pack.test.ts type-checks a
// site's use of it against the packed types.
import type { Config, Profile } from './core/types';
import type { stats } from './api';

/** What `identify` takes: the modern field names, typed; Klaviyo's legacy `$`-keys and custom properties too. */
export type KlaviyoIdentifyProps = Profile & Record<string, unknown>;

/** The commands `push` takes. */
export type KlaviyoCommand = ['identify', KlaviyoIdentifyProps] | ['account', string] | ['config', Partial<Config>];

/** The tracker's counters (`_klaviyo.stats()`). */
export type KlaviyoStats = ReturnType<typeof stats>;

/**
 * `window._klaviyo`: the stub's array until the bundle loads (commands pushed onto it wait there), the tracker after
 * (the same object, `push` acting at once). `identify`, `account` and `config` return promises in both; `flush` and
 * `stats` arrive with the bundle.
 */
export interface KlaviyoQueue extends Array<KlaviyoCommand> {
  identify(props: KlaviyoIdentifyProps): Promise<void>;
  account(companyId: string): Promise<unknown>;
  config(options: Partial<Config>): Promise<unknown>;
  flush?(): Promise<void>;
  stats?(): KlaviyoStats;
}

declare global {
  // `var`, so that both `window._klaviyo` and a bare `_klaviyo` are typed.
  // eslint-disable-next-line no-var
  var _klaviyo: KlaviyoQueue;
}
