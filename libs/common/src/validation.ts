import { ValidationPipe, type ValidationError } from '@nestjs/common';
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

/** The global pipe: strict contracts, unknown keys rejected at every level, one 400 shape. */
export function strictValidationPipe(): ValidationPipe {
  return new ValidationPipe({
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
  const instance = plainToInstance(cls, value);
  const errors = validateSync(instance, STRICT_VALIDATION);
  if (errors.length > 0) throw new ValidationFailed(flattenValidationErrors(errors, pathPrefix));
  return instance;
}
