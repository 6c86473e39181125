import { type ArgumentMetadata, type PipeTransform, ValidationPipe, type ValidationError } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ValidationFailed, type ValidationDetail } from './errors.js';

const MAX_DETAILS = 50;

/** Flattens class-validator's tree into `{path, message}` pairs such as `inputs.tasks.0.connector`. */
export function flattenValidationErrors(errors: readonly ValidationError[], prefix = ''): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) details.push({ path, message });
    if (error.children?.length) details.push(...flattenValidationErrors(error.children, path));
  }
  return details.slice(0, MAX_DETAILS);
}

export const STRICT_VALIDATION = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
} as const;

/**
 * Key names that class-transformer (and Nest's pipe) silently skip or strip instead of copying: every
 * member of Object.prototype (`toString`, `valueOf`, `hasOwnProperty`, `constructor`, `__proto__`, …)
 * and `prototype`. Left alone they would be dropped from strict contracts (a 201 for a body that
 * should be a 400) and from the open objects alike, so they are refused wherever they appear.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__', 'constructor', 'prototype']);

/** With the u flag a lone surrogate is one code point of category Cs; a well-formed pair is not. */
export const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATE_ALL = /\p{Cs}/gu;

function joinPath(prefix: string, key: string): string {
  return prefix ? `${prefix}.${key}` : key;
}

/**
 * Walks a raw value (objects and arrays, at any depth, open objects included) and returns one detail
 * per own key named like an Object.prototype member, `__proto__` or `prototype`, per string (or
 * key) holding U+0000, which Postgres cannot store, and per string (or key) with a lone surrogate. Iterative, so a
 * deeply nested body cannot overflow the stack, and cycle-safe for values that do not come from JSON.
 */
export function forbiddenKeyDetails(value: unknown, pathPrefix = ''): ValidationDetail[] {
  const details: ValidationDetail[] = [];
  const seen = new WeakSet<object>();
  const stack: { value: unknown; path: string }[] = [{ value, path: pathPrefix }];
  while (stack.length > 0 && details.length < MAX_DETAILS) {
    const current = stack.pop()!;
    const node = current.value;
    // Postgres text and jsonb cannot hold U+0000: refuse it here rather than fail at the database.
    if (typeof node === 'string') {
      if (node.includes('\u0000')) details.push({ path: current.path, message: `${current.path || 'value'} must not contain the NUL character` });
      // A lone surrogate (from a \ud800 escape) becomes U+FFFD when encoded: refused, so two strings never collapse into one.
      else if (LONE_SURROGATE.test(node))
        details.push({ path: current.path, message: `${current.path || 'value'} must be well-formed Unicode (no lone surrogates)` });
      continue;
    }
    if (typeof node !== 'object' || node === null || ArrayBuffer.isView(node) || node instanceof ArrayBuffer || seen.has(node)) continue;
    seen.add(node);
    const keys = Object.keys(node);
    // Pushed in reverse so that children are visited in key order (a node's own keys are reported first).
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (!FORBIDDEN_KEYS.has(key)) stack.push({ value: (node as Record<string, unknown>)[key], path: joinPath(current.path, key) });
    }
    for (const key of keys) {
      if (FORBIDDEN_KEYS.has(key)) details.push({ path: joinPath(current.path, key), message: `property ${key} is not allowed` });
      else if (key.includes('\u0000'))
        details.push({ path: joinPath(current.path, key.replaceAll('\u0000', '\\u0000')), message: 'property names must not contain the NUL character' });
      else if (LONE_SURROGATE.test(key))
        details.push({
          path: joinPath(current.path, key.replace(LONE_SURROGATE_ALL, '\ufffd')),
          message: 'property names must be well-formed Unicode (no lone surrogates)',
        });
    }
  }
  return details.slice(0, MAX_DETAILS);
}

/**
 * The global pipe's class: refuses prototype-named keys before class-transformer can drop them, then
 * validates as Nest's ValidationPipe does. Only parameters that ValidationPipe itself validates (class
 * metatypes) are checked; a `string` param or a custom decorator's value passes through unchanged.
 */
export class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.metatype && this.toValidate(metadata)) {
      const details = forbiddenKeyDetails(value);
      if (details.length > 0) throw new ValidationFailed(details);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

/** The global pipe: strict contracts, unknown keys rejected at every level, one 400 shape. */
export function strictValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    ...STRICT_VALIDATION,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => new ValidationFailed(flattenValidationErrors(errors)),
  });
}

/** Validates a plain value against a contract class outside the HTTP pipe (connector args, CLI input). */
export function validateContract<T extends object>(cls: new () => T, value: unknown, pathPrefix = ''): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationFailed([{ path: pathPrefix, message: `${pathPrefix || 'value'} must be an object` }]);
  }
  let instance: T;
  let details: ValidationDetail[];
  try {
    const forbidden = forbiddenKeyDetails(value, pathPrefix);
    if (forbidden.length > 0) throw new ValidationFailed(forbidden);
    instance = plainToInstance(cls, value);
    details = flattenValidationErrors(validateSync(instance, STRICT_VALIDATION), pathPrefix);
  } catch (error) {
    if (error instanceof ValidationFailed) throw error;
    // class-transformer / class-validator (or a getter) tripping over an odd value: the value is at fault, not the service.
    throw new ValidationFailed([{ path: pathPrefix, message: `${pathPrefix || 'value'} could not be validated` }]);
  }
  if (details.length > 0) throw new ValidationFailed(details);
  return instance;
}

/** A path ID: printable ASCII, 1..200 characters (run, intent, artifact and workflow IDs all fit). */
const PATH_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * Refuses a path parameter that is not a plausible ID before any lookup: NUL, control characters,
 * non-ASCII and overlong values are a 400 here, never a database error.
 */
export class PathIdPipe implements PipeTransform<unknown, string> {
  constructor(private readonly name: string) {}

  transform(value: unknown): string {
    if (typeof value !== 'string' || !PATH_ID.test(value)) {
      throw new ValidationFailed([{ path: this.name, message: `${this.name} must be an ID: 1..200 printable ASCII characters` }]);
    }
    return value;
  }
}

/** An ID for an error message: at most 64 characters, anything outside printable ASCII escaped. */
export function shownId(id: string): string {
  const escaped = JSON.stringify(id.length > 64 ? id.slice(0, 64) : id)
    .slice(1, -1)
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return id.length > 64 ? `${escaped}…` : escaped;
}
