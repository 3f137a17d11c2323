// Reading app settings one by one: trimmed, typed, checked, each problem recorded under the setting's name and
// reported together at the end. What settings exist is shared/config.ts's business.
import { ConfigError } from '../errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class SettingReader {
  readonly #problems: { setting: string; message: string }[] = [];

  constructor(private readonly env: Env) {}

  /** Records a problem with `setting`, reported by `throwIfInvalid`. */
  problem(setting: string, message: string): void {
    this.#problems.push({ setting, message });
  }

  /** One ConfigError naming every problem recorded; nothing when there is none. */
  throwIfInvalid(): void {
    const [first, ...others] = this.#problems;
    if (first !== undefined) {
      // ConfigError puts the first setting's name in front; the others follow, each named once.
      const listing = [first.message, ...others.map((p) => `${p.setting}: ${p.message}`)].join('; ');
      throw new ConfigError(first.setting, `${listing}. See local.settings.sample.json.`);
    }
  }

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) {
      this.problem(name, 'is required but not set');
      return '';
    }
    return value;
  }

  guid(name: string): string {
    const value = this.required(name);
    if (value !== '' && !GUID.test(value)) {
      this.problem(name, 'must be a GUID (the id shown in the Entra admin center)');
    }
    return value.toLowerCase();
  }

  optionalGuid(name: string): string | undefined {
    const value = this.optional(name);
    if (value !== undefined && !GUID.test(value)) {
      this.problem(name, 'must be a GUID');
    }
    return value?.toLowerCase();
  }

  httpsUrl(name: string, fallback?: string): URL {
    const value = this.optional(name) ?? fallback;
    if (value === undefined) {
      this.problem(name, 'is required but not set (an https:// URL)');
      return new URL('https://invalid.invalid');
    }
    try {
      const url = new URL(value);
      if (url.protocol !== 'https:') {
        this.problem(name, 'must be an https:// URL');
      }
      return url;
    } catch {
      this.problem(name, 'is not a URL');
      return new URL('https://invalid.invalid');
    }
  }

  /** A host only (scheme, host, port): the tenant and paths are added by the code that needs them. */
  httpsOrigin(name: string, fallback: string): URL {
    const url = this.httpsUrl(name, fallback);
    if (
      url.pathname !== '/' ||
      url.search !== '' ||
      url.hash !== '' ||
      url.username !== '' ||
      url.password !== ''
    ) {
      this.problem(name, 'must be a host only, such as https://login.microsoftonline.com (no path)');
    }
    return url;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.optional(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      this.problem(name, `must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return parsed;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.optional(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    this.problem(name, 'must be true or false');
    return fallback;
  }

  oneOf<const T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.optional(name);
    if (value === undefined) return fallback;
    const match = allowed.find((a) => a === value);
    if (match === undefined) {
      this.problem(name, `must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return match;
  }

  list(name: string, fallback: string[]): string[] {
    const value = this.optional(name);
    if (value === undefined) return fallback;
    return value.split(/[\s,]+/).filter((item) => item !== '');
  }

  /** A setting that was removed: set, it is an error that says what replaced it, rather than being ignored. */
  retired(name: string, message: string): void {
    if (this.optional(name) !== undefined) this.problem(name, message);
  }
}
