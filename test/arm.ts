// A small evaluator of ARM template expressions, enough for the templates Bicep compiles from infra/: it resolves
// every value a deployment would get (parameters through nested deployments, variables, copy loops, format,
// resourceId, reference, ...) for a given set of parameters, so tests assert on the values Azure would see
// rather than on how the expressions are spelled. Values that only exist after a deployment (an identity's
// principal id, an account's endpoint) are made up deterministically from the resource's id.
import { createHash } from 'node:crypto';

import { isRecord } from '../shared/narrow.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonRecord = { [key: string]: Json };

export const SUBSCRIPTION_ID = '00000000-0000-4000-8000-000000000001';
export const TENANT_ID = '00000000-0000-4000-8000-000000000002';

/** What ARM's environment() answers in each cloud (the parts the templates read). */
export const ARM_ENVIRONMENTS = {
  AzureCloud: {
    name: 'AzureCloud',
    authentication: { loginEndpoint: 'https://login.microsoftonline.com/' },
    suffixes: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net' },
  },
  AzureUSGovernment: {
    name: 'AzureUSGovernment',
    authentication: { loginEndpoint: 'https://login.microsoftonline.us/' },
    suffixes: { storage: 'core.usgovcloudapi.net', keyvaultDns: '.vault.usgovcloudapi.net' },
  },
  AzureChinaCloud: {
    name: 'AzureChinaCloud',
    authentication: { loginEndpoint: 'https://login.chinacloudapi.cn/' },
    suffixes: { storage: 'core.chinacloudapi.cn', keyvaultDns: '.vault.azure.cn' },
  },
} as const satisfies Record<string, Json>;
export type ArmCloud = keyof typeof ARM_ENVIRONMENTS;

/** A GUID made from its inputs, like ARM's guid() (not the same bytes, the same properties: stable, distinct). */
export function fakeGuid(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A value as text: strings as they are, anything else as JSON. */
export function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return `${value}`;
  return JSON.stringify(value) ?? '';
}

export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---- parsing -------------------------------------------------------------------------------------------------

type Node =
  | { kind: 'literal'; value: Json }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'property'; target: Node; name: string }
  | { kind: 'index'; target: Node; index: Node };

function parse(source: string): Node {
  let position = 0;
  const fail = (what: string): never => {
    throw new Error(`ARM expression: ${what} at ${position} in ${source}`);
  };
  const skipSpace = (): void => {
    while (source[position] === ' ') position += 1;
  };
  const expect = (character: string): void => {
    skipSpace();
    if (source[position] !== character) fail(`expected "${character}"`);
    position += 1;
  };
  const identifier = (): string => {
    skipSpace();
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(position));
    if (match === null) return fail('expected a name');
    position += match[0].length;
    return match[0];
  };
  const primary = (): Node => {
    skipSpace();
    const character = source[position];
    if (character === "'") {
      let value = '';
      position += 1;
      for (;;) {
        if (position >= source.length) fail('unterminated string');
        if (source[position] === "'") {
          if (source[position + 1] === "'") {
            value += "'";
            position += 2;
            continue;
          }
          position += 1;
          return { kind: 'literal', value };
        }
        value += source[position];
        position += 1;
      }
    }
    const number = /^-?\d+/.exec(source.slice(position));
    if (number !== null) {
      position += number[0].length;
      return { kind: 'literal', value: Number(number[0]) };
    }
    const name = identifier();
    expect('(');
    const args: Node[] = [];
    skipSpace();
    if (source[position] === ')') position += 1;
    else {
      for (;;) {
        args.push(expression());
        skipSpace();
        if (source[position] === ',') position += 1;
        else break;
      }
      expect(')');
    }
    return { kind: 'call', name, args };
  };
  const expression = (): Node => {
    let node = primary();
    for (;;) {
      skipSpace();
      if (source[position] === '.') {
        position += 1;
        node = { kind: 'property', target: node, name: identifier() };
      } else if (source[position] === '[') {
        position += 1;
        const index = expression();
        expect(']');
        node = { kind: 'index', target: node, index };
      } else if (source.startsWith('?.', position)) {
        position += 2;
        node = { kind: 'property', target: node, name: identifier() };
      } else return node;
    }
  };
  const node = expression();
  skipSpace();
  if (position !== source.length) fail('unexpected text');
  return node;
}

// ---- templates and scopes -------------------------------------------------------------------------------------

/** One template being deployed: the main template or a module, with the parameter values it was given. */
export class Deployment {
  private readonly variableCache = new Map<string, Json>();
  private readonly copyIndexes = new Map<string, number>();
  readonly children = new Map<string, Deployment>();

  constructor(
    readonly template: JsonRecord,
    private readonly parameterValues: JsonRecord,
    readonly symbol: string,
    /** The Azure cloud deployed to: what environment() answers. */
    readonly cloud: ArmCloud = 'AzureCloud',
  ) {}

  /** Evaluates a template value: strings in [brackets] are expressions, objects and arrays are walked. */
  value(raw: Json | undefined): Json {
    if (raw === undefined) return null;
    if (typeof raw === 'string') {
      if (raw.startsWith('[[')) return raw.slice(1);
      if (raw.startsWith('[') && raw.endsWith(']')) return this.evaluate(parse(raw.slice(1, -1)));
      return raw;
    }
    if (Array.isArray(raw)) return raw.map((item) => this.value(item));
    if (raw !== null && typeof raw === 'object') {
      return Object.fromEntries(
        Object.entries(raw).map(([key, item]) => [str(this.value(key)), this.value(item)]),
      );
    }
    return raw;
  }

  parameter(name: string): Json {
    if (name in this.parameterValues) return this.parameterValues[name] ?? null;
    const declared = this.record(this.template['parameters'])[name];
    if (!isRecord(declared) || !('defaultValue' in declared))
      throw new Error(`no value for parameter ${name}`);
    return this.value(toJson(declared['defaultValue']));
  }

  variable(name: string): Json {
    const cached = this.variableCache.get(name);
    if (cached !== undefined) return cached;
    const variables = this.record(this.template['variables']);
    let result: Json;
    if (name in variables) result = this.value(toJson(variables[name]));
    else {
      const loops: unknown[] = Array.isArray(variables['copy']) ? variables['copy'] : [];
      const loop = loops.find((copy) => isRecord(copy) && copy['name'] === name);
      if (!isRecord(loop)) throw new Error(`no variable ${name}`);
      const count = Number(this.value(toJson(loop['count'])));
      result = [];
      for (let index = 0; index < count; index += 1) {
        this.copyIndexes.set(name, index);
        result.push(this.value(toJson(loop['input'])));
      }
      this.copyIndexes.delete(name);
    }
    this.variableCache.set(name, result);
    return result;
  }

  /** The resources this template declares, keyed by symbolic name (languageVersion 2.0). */
  resources(): Map<string, JsonRecord> {
    return new Map(
      Object.entries(this.record(this.template['resources'])).flatMap(([symbol, resource]) =>
        isRecord(resource) ? [[symbol, toJsonRecord(resource)]] : [],
      ),
    );
  }

  resource(symbol: string): JsonRecord {
    const found = this.resources().get(symbol);
    if (found === undefined) throw new Error(`no resource ${symbol}`);
    return found;
  }

  /** Every instance of a resource, evaluated: one, or one per iteration of its copy loop. */
  instances(symbol: string): JsonRecord[] {
    const resource = this.resource(symbol);
    const loop = resource['copy'];
    if (!isRecord(loop)) return [toJsonRecord(this.value(resource))];
    const count = Number(this.value(toJson(loop['count'])));
    const instances: JsonRecord[] = [];
    for (let index = 0; index < count; index += 1) {
      // copyIndex() without a name means the loop of the resource being evaluated.
      this.copyIndexes.set('', index);
      instances.push(toJsonRecord(this.value(resource)));
    }
    this.copyIndexes.delete('');
    return instances;
  }

  /** The resource id Azure would give the resource with this symbolic name. */
  resourceId(symbol: string): string {
    const resource = this.resource(symbol);
    return resourceIdOf(str(resource['type']), str(this.value(resource['name'])).split('/'));
  }

  /** The deployment of the module with this symbolic name, its parameters evaluated here. */
  module(symbol: string): Deployment {
    const existing = this.children.get(symbol);
    if (existing !== undefined) return existing;
    const resource = this.resource(symbol);
    const properties = toJsonRecord(resource['properties']);
    const parameters = Object.fromEntries(
      // A wrapper is { value } or, for a value that depends on a condition, an expression that makes one.
      Object.entries(toJsonRecord(properties['parameters'])).map(([name, wrapper]) => [
        name,
        toJsonRecord(this.value(wrapper))['value'] ?? null,
      ]),
    );
    const child = new Deployment(toJsonRecord(properties['template']), parameters, symbol, this.cloud);
    this.children.set(symbol, child);
    return child;
  }

  outputs(): JsonRecord {
    return Object.fromEntries(
      Object.entries(this.record(this.template['outputs'])).map(([name, output]) => [
        name,
        this.value(toJsonRecord(toJson(output))['value']),
      ]),
    );
  }

  private record(value: unknown): Record<string, unknown> {
    return isRecord(value) ? value : {};
  }

  private reference(symbol: string): Json {
    const resource = this.resource(symbol);
    const type = str(resource['type']);
    if (type === 'Microsoft.Resources/deployments') {
      const outputs = this.module(symbol).outputs();
      return {
        outputs: Object.fromEntries(Object.entries(outputs).map(([name, value]) => [name, { value }])),
      };
    }
    const id = this.resourceId(symbol);
    const name = str(this.value(resource['name'])).split('/').at(-1) ?? '';
    switch (type) {
      case 'Microsoft.ManagedIdentity/userAssignedIdentities':
        return {
          principalId: fakeGuid('principalId', id),
          clientId: fakeGuid('clientId', id),
          tenantId: TENANT_ID,
        };
      case 'Microsoft.Storage/storageAccounts':
        return { primaryEndpoints: { blob: `https://${name}.blob.core.windows.net/` } };
      case 'Microsoft.DocumentDB/databaseAccounts':
        return { documentEndpoint: `https://${name}.documents.azure.com:443/` };
      case 'Microsoft.KeyVault/vaults':
        return { vaultUri: `https://${name}.vault.azure.net/` };
      case 'Microsoft.Insights/components':
        return { ConnectionString: `InstrumentationKey=${fakeGuid('ikey', id)}` };
      case 'Microsoft.Web/sites':
        return { defaultHostName: `${name}.azurewebsites.net` };
      default:
        return { id };
    }
  }

  private evaluate(node: Node): Json {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'property': {
        const target = this.evaluate(node.target);
        if (!isRecord(target)) throw new Error(`.${node.name} of a non-object`);
        return toJson(target[node.name]) ?? null;
      }
      case 'index': {
        const target = this.evaluate(node.target);
        const index = this.evaluate(node.index);
        if (Array.isArray(target) && typeof index === 'number') return target[index] ?? null;
        if (isRecord(target) && typeof index === 'string') return toJson(target[index]) ?? null;
        throw new Error('bad index');
      }
      case 'call':
        return this.call(node.name, node.args);
    }
  }

  private call(name: string, args: Node[]): Json {
    const lazy = (index: number): Json => {
      const arg = args[index];
      if (arg === undefined) throw new Error(`${name}: missing argument ${index}`);
      return this.evaluate(arg);
    };
    const all = (): Json[] => args.map((arg) => this.evaluate(arg));
    const text = (index: number): string => {
      const value = lazy(index);
      if (typeof value !== 'string') throw new Error(`${name}: argument ${index} is not a string`);
      return value;
    };
    switch (name.toLowerCase()) {
      case 'parameters':
        return this.parameter(text(0));
      case 'variables':
        return this.variable(text(0));
      case 'copyindex': {
        const index = this.copyIndexes.get(args.length === 0 ? '' : text(0));
        if (index === undefined) throw new Error('copyIndex outside its loop');
        return index;
      }
      case 'if':
        return lazy(0) === true ? lazy(1) : lazy(2);
      case 'and':
        return args.every((_, index) => lazy(index) === true);
      case 'or':
        return args.some((_, index) => lazy(index) === true);
      case 'not':
        return lazy(0) !== true;
      case 'equals':
        return JSON.stringify(lazy(0)) === JSON.stringify(lazy(1));
      case 'empty': {
        const value = lazy(0);
        if (value === null || value === '') return true;
        if (Array.isArray(value)) return value.length === 0;
        return typeof value === 'object' && Object.keys(value).length === 0;
      }
      case 'true':
        return true;
      case 'false':
        return false;
      case 'null':
        return null;
      case 'createarray':
        return all();
      case 'createobject': {
        const values = all();
        const result: JsonRecord = {};
        for (let index = 0; index + 1 < values.length; index += 2)
          result[str(values[index])] = values[index + 1] ?? null;
        return result;
      }
      case 'union': {
        const values = all();
        if (values.every(Array.isArray))
          return [...new Set(values.flat().map((item) => JSON.stringify(item)))].map((item) =>
            toJson(JSON.parse(item)),
          );
        return Object.assign({}, ...values.filter(isRecord)) as JsonRecord;
      }
      case 'concat': {
        const values = all();
        return values.every(Array.isArray) ? values.flat() : values.map(String).join('');
      }
      case 'format': {
        const [pattern, ...values] = all();
        return str(pattern).replace(/\{(\d+)\}/g, (_, index: string) => str(values[Number(index)]));
      }
      case 'tolower':
        return text(0).toLowerCase();
      case 'toupper':
        return text(0).toUpperCase();
      case 'string':
        return typeof lazy(0) === 'string' ? text(0) : JSON.stringify(lazy(0));
      case 'length': {
        const value = lazy(0);
        return typeof value === 'string' || Array.isArray(value)
          ? value.length
          : Object.keys(value ?? {}).length;
      }
      case 'contains': {
        const container = lazy(0);
        const item = lazy(1);
        if (typeof container === 'string') return container.includes(str(item));
        if (Array.isArray(container))
          return container.some((entry) => JSON.stringify(entry) === JSON.stringify(item));
        return isRecord(container) && str(item) in container;
      }
      case 'startswith':
        return text(0).toLowerCase().startsWith(text(1).toLowerCase());
      case 'endswith':
        return text(0).toLowerCase().endsWith(text(1).toLowerCase());
      case 'substring':
        return text(0).substring(Number(lazy(1)), Number(lazy(1)) + Number(lazy(2)));
      case 'add':
        return Number(lazy(0)) + Number(lazy(1));
      case 'sub':
        return Number(lazy(0)) - Number(lazy(1));
      case 'max':
        return Math.max(...all().map(Number));
      case 'min':
        return Math.min(...all().map(Number));
      case 'last': {
        const value = lazy(0);
        return Array.isArray(value) ? (value.at(-1) ?? null) : str(value).slice(-1);
      }
      case 'split':
        return text(0).split(text(1));
      case 'join': {
        const value = lazy(0);
        return (Array.isArray(value) ? value : []).map(str).join(text(1));
      }
      case 'coalesce':
        for (let index = 0; index < args.length; index += 1) {
          const value = lazy(index);
          if (value !== null) return value;
        }
        return null;
      case 'fail':
        throw new Error(`deployment fails: ${text(0)}`);
      case 'guid':
        return fakeGuid('guid', ...all().map(String));
      case 'uniquestring':
        return fakeGuid('uniqueString', ...all().map(String))
          .replace(/-/g, '')
          .slice(0, 13);
      case 'deployment':
        return { name: this.symbol };
      case 'tenant':
        return { tenantId: TENANT_ID };
      case 'subscription':
        return {
          id: `/subscriptions/${SUBSCRIPTION_ID}`,
          subscriptionId: SUBSCRIPTION_ID,
          tenantId: TENANT_ID,
        };
      case 'environment':
        return structuredClone(ARM_ENVIRONMENTS[this.cloud]);
      case 'tryget': {
        const container = lazy(0);
        const key = lazy(1);
        if (Array.isArray(container) && typeof key === 'number') return container[key] ?? null;
        return isRecord(container) && Object.hasOwn(container, str(key))
          ? (toJson(container[str(key)]) ?? null)
          : null;
      }
      case 'resourceid': {
        const values = all().map(String);
        const typeIndex = values.findIndex((value) => /^[A-Za-z]+\.[A-Za-z.]+\//.test(value));
        const type = values[typeIndex] ?? '';
        return resourceIdOf(type, values.slice(typeIndex + 1));
      }
      case 'subscriptionresourceid': {
        const [type = '', ...names] = all().map(String);
        return `/subscriptions/${SUBSCRIPTION_ID}/providers/${interleave(type, names)}`;
      }
      case 'reference':
        return this.reference(text(0));
      default:
        throw new Error(`ARM function ${name} is not supported by test/arm.ts`);
    }
  }
}

export const RESOURCE_GROUP_ID = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg-test`;

function interleave(type: string, names: string[]): string {
  const [namespace, ...types] = type.split('/');
  return [namespace, ...types.flatMap((segment, index) => [segment, names[index] ?? ''])].join('/');
}

function resourceIdOf(type: string, names: string[]): string {
  return `${RESOURCE_GROUP_ID}/providers/${interleave(type, names)}`;
}

/** A scope as written in a template: a resource id, or a resource-group-relative "Namespace/type/name" path. */
export function absoluteScope(scope: string): string {
  return scope.startsWith('/') ? scope : `${RESOURCE_GROUP_ID}/providers/${scope}`;
}

function toJson(value: unknown): Json {
  return value === undefined ? null : (value as Json);
}

function toJsonRecord(value: unknown): JsonRecord {
  if (!isRecord(value)) throw new Error('expected an object');
  return value as JsonRecord;
}
