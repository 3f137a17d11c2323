// Command-line parsing shared by the CLIs: node:util's parseArgs, strict, with its errors turned into one line
// naming the argument, followed by the command's usage; never a stack.
import { createServer } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line or setting: the CLI prints `<command>: <message>` and its usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs in strict mode, no positionals. A value that starts with a dash and a digit (`--lifetime -10`) is
 * taken as the option's value, as a user means it (parseArgs alone asks for `--lifetime=-10`).
 */
export function parseCommandLine<T extends Options>(
  argv: readonly string[],
  options: T,
): ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>['values'] {
  const args: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    const next = argv[index + 1];
    if (arg === '--') {
      throw new UsageError('unexpected "--": put every option after npm\'s one "--", as the usage shows');
    }
    const name = /^--([^=]+)$/.exec(arg)?.[1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${arg}=${next}`);
      index += 1;
    } else {
      args.push(arg);
    }
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
}

function describeParseError(error: unknown): string {
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `${quoted.split(' ')[0] ?? quoted} ${/does not take/.test(message) ? 'takes no value' : 'needs a value'}`;
    default:
      return message.split('\n')[0] ?? message;
  }
}

/** A TCP port from an option's text: 0 (any free port) to 65535. */
export function portOption(name: string, text: string, options: { allowZero?: boolean } = {}): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  const lowest = options.allowZero === true ? 0 : 1;
  if (!Number.isInteger(port) || port < lowest || port > 65535) {
    throw new UsageError(`--${name} must be a port number from ${lowest} to 65535, not "${text}"`);
  }
  return port;
}

/** A whole number in [min, max] from an option's text. */
export function integerOption(name: string, text: string, min: number, max: number): number {
  const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
  }
  return value;
}

/** Resolves when the port can be listened on at 127.0.0.1, with false when something holds it. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** The one line a CLI prints for a bad command line, then its usage; exit code 2. */
export function reportUsageError(command: string, error: UsageError, usage: string): void {
  process.stderr.write(`${command}: ${error.message}\nusage: ${usage}\n`);
  process.exitCode = 2;
}

export function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'EADDRINUSE';
}
