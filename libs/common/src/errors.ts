/** Domain errors thrown by services; the exception filter maps each kind to one HTTP status. */
export type ErrorKind = 'validation' | 'not_found' | 'conflict' | 'unauthorized' | 'forbidden';

export interface ValidationDetail {
  readonly path: string;
  readonly message: string;
}

export abstract class DomainError extends Error {
  abstract readonly kind: ErrorKind;
}

export class ValidationFailed extends DomainError {
  readonly kind = 'validation';
  constructor(readonly details: readonly ValidationDetail[]) {
    super(details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; '));
  }
}

export class NotFound extends DomainError {
  readonly kind = 'not_found';
}

export class Conflict extends DomainError {
  readonly kind = 'conflict';
  /** `status` is the current state that makes the request conflict; `hint` says what to do instead. */
  constructor(
    message: string,
    readonly status?: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export class Unauthorized extends DomainError {
  readonly kind = 'unauthorized';
}

export class Forbidden extends DomainError {
  readonly kind = 'forbidden';
}
