/** DBOS 5.3 workflow statuses. */
export const WORKFLOW_STATUSES = ['PENDING', 'ENQUEUED', 'DELAYED', 'SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'] as const;
export type WorkflowStatusName = (typeof WORKFLOW_STATUSES)[number];

export const TERMINAL_STATUSES: readonly WorkflowStatusName[] = ['SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'];
export const CANCELLABLE_STATUSES: readonly WorkflowStatusName[] = ['PENDING', 'ENQUEUED', 'DELAYED'];
export const RESUMABLE_STATUSES: readonly WorkflowStatusName[] = ['CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', 'ENQUEUED', 'DELAYED'];

/** A workflow ID in a path: printable, bounded. Anything else is a 400 before any lookup. */
export const WORKFLOW_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * Text without control characters (C0, DEL): it lands in audit rows, SQL parameters and terminals.
 * Written as what it allows: printable ASCII (space to ~) or anything outside ASCII.
 */
export const PRINTABLE = /^(?:[ -~]|\P{ASCII})+$/u;

/**
 * Text that lands in the audit trail (actor, reason): no Unicode control (Cc: C0, DEL, C1 such as
 * U+0085), format (Cf: bidi overrides such as U+202E, zero-width characters), line/paragraph separator
 * (Zl, Zp) or lone surrogate (Cs), so what an auditor reads is what was sent, on one line.
 */
export const AUDIT_TEXT = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]+$/u;
