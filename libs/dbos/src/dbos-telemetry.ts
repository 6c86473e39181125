import { DBOS } from '@dbos-inc/dbos-sdk';
import {
  type Attributes,
  type AttributeValue,
  type Context,
  context,
  type Exception,
  INVALID_SPAN_CONTEXT,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  trace,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
} from '@opentelemetry/api';
import type { ReadableSpan, Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { timedStep } from './service-metrics.js';

/**
 * DBOS spans in the service's one trace per run.
 *
 * DBOS (tracingEnabled, enableOTLP off) creates its workflow and step spans with the global
 * TracerProvider, which the service installs (apps/api/src/tracing.ts) wrapped in
 * {@link DbosTracerProvider}. Two things DBOS does not do, done here:
 *
 * 1. **Carry the trace across the queue.** An enqueued workflow runs later, from the dequeue loop,
 *    where no request context is active: DBOS starts its workflow span as a new root. The enqueuer
 *    puts the W3C context of its active span into the workflow input ({@link traceCarrier}); the
 *    workflow's first statement ({@link continueWorkflowTrace}) re-parents its DBOS workflow span
 *    under it before any step runs, so the steps (children of the active span) land there too.
 * 2. **The three mandatory attributes** (`workflowID`, `step.name`, `appVersion`) on every DBOS
 *    workflow and step span, replayed (cached) steps included: {@link WorkflowAttributesProcessor}
 *    sets them from the attributes DBOS gives each span at start.
 *
 * With tracing off (no OTLP endpoint) nothing here is installed and every helper returns at once.
 */

export const DBOS_TRACER_NAME = 'dbos-tracer';
/** The tracer DBOS.launch probes the context manager with; its span would be exported as junk. */
const DBOS_PROBE_TRACER_NAME = 'otel-bootstrap-check';
/** Spans this service opens itself inside workflows (the durable sleep). */
const SERVICE_TRACER_NAME = 'durable-ops';

export const ATTR_WORKFLOW_ID = 'workflowID';
export const ATTR_STEP_NAME = 'step.name';
export const ATTR_APP_VERSION = 'appVersion';

/** The W3C trace context a workflow continues, and the workflow it was captured for. */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string;
  /** A fork copies its original's inputs: a carrier for another workflow ID is a link, not a parent. */
  readonly workflowID: string;
}

let tracingOn = false;
let processVersion = '';

/** Called once by the telemetry setup, before DBOS.launch. */
export function enableDbosTracing(appVersion: string): void {
  tracingOn = true;
  processVersion = appVersion;
}

/** True when spans are recorded and exported (an OTLP traces endpoint is configured). */
export function dbosTracingEnabled(): boolean {
  return tracingOn;
}

// Carriers go through the global propagator: W3C trace context, registered by the telemetry setup.
const headerGetter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};
const headerSetter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };

/** The active span's W3C context, for a workflow started from here (undefined with tracing off). */
export function traceCarrier(workflowId: string): TraceCarrier | undefined {
  if (!tracingOn) return undefined;
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers, headerSetter);
  const { traceparent, tracestate } = headers;
  if (traceparent === undefined) return undefined;
  return { traceparent, ...(tracestate ? { tracestate } : {}), workflowID: workflowId };
}

/** The trace ID a carrier names. */
export function carrierTraceId(carrier: TraceCarrier): string | undefined {
  return trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { ...carrier }, headerGetter))?.traceId;
}

/** Trace and span ID of the active span (a step's marks record the span that wrote them). */
export function activeSpanIds(): { traceId: string; spanId: string } | undefined {
  if (!tracingOn) return undefined;
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? { traceId: ctx.traceId, spanId: ctx.spanId } : undefined;
}

export interface ContinuedTrace {
  readonly traceId: string;
  /** True when the workflow span now sits under the carrier's span (same trace as the enqueuer). */
  readonly continued: boolean;
}

/**
 * First statement of a workflow that was given a carrier: puts the running DBOS workflow span
 * under the carrier's span (when the carrier is this workflow's own; a fork's copied carrier
 * becomes a link). Returns the workflow's trace ID, or undefined with tracing off.
 */
export function continueWorkflowTrace(carrier: TraceCarrier | undefined): ContinuedTrace | undefined {
  if (!tracingOn) return undefined;
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const parent = carrier ? propagation.extract(ROOT_CONTEXT, { ...carrier }, headerGetter) : undefined;
  const parentSpan = parent ? trace.getSpanContext(parent) : undefined;
  if (parent && parentSpan && trace.isSpanContextValid(parentSpan) && span instanceof WorkflowSpan) {
    if (carrier?.workflowID === DBOS.workflowID) {
      span.reparent(parent);
      return { traceId: span.spanContext().traceId, continued: true };
    }
    span.addLink({ context: parentSpan, attributes: { 'link.reason': 'inputs copied from workflow', [ATTR_WORKFLOW_ID]: carrier?.workflowID ?? '' } });
  }
  return { traceId: span.spanContext().traceId, continued: false };
}

/**
 * A span of a workflow step DBOS does not trace itself (the durable sleep), with the three
 * mandatory attributes, and the step's time in durable_ops.step.duration (with tracing off too).
 */
export async function withStepSpan<T>(stepName: string, fn: () => Promise<T>): Promise<T> {
  if (!tracingOn) return timedStep(stepName, fn);
  const attributes: Attributes = { [ATTR_WORKFLOW_ID]: DBOS.workflowID ?? '', [ATTR_STEP_NAME]: stepName, [ATTR_APP_VERSION]: processVersion };
  return trace.getTracer(SERVICE_TRACER_NAME).startActiveSpan(stepName, { attributes }, async (span) => {
    try {
      const result = await timedStep(stepName, fn);
      span.setStatus({ code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The SDK side: installed by the telemetry setup.

function dbosAttribute(attributes: Attributes, legacy: string, semconv: string): AttributeValue | undefined {
  return attributes[legacy] ?? attributes[semconv];
}

function isWorkflowSpan(options: SpanOptions | undefined): boolean {
  const attributes = options?.attributes;
  return attributes !== undefined && dbosAttribute(attributes, 'operationType', 'dbos.operation.type') === 'workflow';
}

/**
 * A DBOS workflow span whose parent can still be chosen once the workflow body runs: DBOS starts
 * it (and makes it the active span) before the body can see its input. {@link reparent} replaces
 * the underlying SDK span with one under the given parent — same name, start time and
 * attributes; the replaced one is never ended, so never exported. Everything else delegates.
 */
export class WorkflowSpan implements Span {
  constructor(
    private readonly tracer: Tracer,
    private readonly name: string,
    private readonly options: SpanOptions,
    private inner: Span,
  ) {}

  /** DBOS reads the SDK span's attributes (endSpan, contextual logging). */
  get attributes(): Attributes {
    return (this.inner as Partial<ReadableSpan>).attributes ?? {};
  }

  reparent(parent: Context): void {
    const previous = this.inner as Span & Partial<ReadableSpan>;
    this.inner = this.tracer.startSpan(
      this.name,
      { ...this.options, attributes: { ...(previous.attributes ?? this.options.attributes) }, startTime: previous.startTime ?? this.options.startTime },
      parent,
    );
  }

  spanContext(): SpanContext {
    return this.inner.spanContext();
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.inner.setAttribute(key, value);
    return this;
  }
  setAttributes(attributes: Attributes): this {
    this.inner.setAttributes(attributes);
    return this;
  }
  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this {
    this.inner.addEvent(name, attributesOrStartTime, startTime);
    return this;
  }
  addLink(link: Link): this {
    this.inner.addLink(link);
    return this;
  }
  addLinks(links: Link[]): this {
    this.inner.addLinks(links);
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.inner.setStatus(status);
    return this;
  }
  updateName(name: string): this {
    this.inner.updateName(name);
    return this;
  }
  end(endTime?: TimeInput): void {
    this.inner.end(endTime);
  }
  isRecording(): boolean {
    return this.inner.isRecording();
  }
  recordException(exception: Exception, time?: TimeInput): void {
    this.inner.recordException(exception, time);
  }
}

/** DBOS's tracer: workflow spans come back re-parentable. */
class DbosTracer implements Tracer {
  constructor(private readonly inner: Tracer) {}

  startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
    const span = this.inner.startSpan(name, options, ctx);
    return isWorkflowSpan(options) ? new WorkflowSpan(this.inner, name, options ?? {}, span) : span;
  }

  /** (name, fn) | (name, options, fn) | (name, options, context, fn), as the SDK's. */
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest.at(-1) as F;
    const options = rest.length >= 2 ? (rest[0] as SpanOptions | undefined) : undefined;
    const parent = (rest.length >= 3 ? (rest[1] as Context | undefined) : undefined) ?? context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

/** DBOS.launch checks that a span becomes active inside context.with; a non-recording one proves it. */
class ProbeTracer implements Tracer {
  startSpan(): Span {
    return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  }
  startActiveSpan<F extends (span: Span) => unknown>(_name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest.at(-1) as F;
    return fn(this.startSpan()) as ReturnType<F>;
  }
}

/** The global TracerProvider the service registers: the SDK provider, with DBOS's tracer wrapped. */
export class DbosTracerProvider implements TracerProvider {
  private dbosTracer: Tracer | undefined;
  private readonly probe = new ProbeTracer();

  constructor(private readonly inner: TracerProvider) {}

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    if (name === DBOS_PROBE_TRACER_NAME) return this.probe;
    if (name !== DBOS_TRACER_NAME) return this.inner.getTracer(name, version, options);
    return (this.dbosTracer ??= new DbosTracer(this.inner.getTracer(name, version, options)));
  }
}

/**
 * Sets `workflowID`, `step.name` and `appVersion` on every DBOS workflow and step span at start,
 * from the operation attributes DBOS passes to startSpan (legacy or semconv names). On a workflow
 * span, `step.name` is the workflow's name.
 */
export class WorkflowAttributesProcessor implements SpanProcessor {
  constructor(private readonly appVersion: string) {}

  onStart(span: SdkSpan): void {
    if (span.instrumentationScope.name !== DBOS_TRACER_NAME) return;
    const workflowId = dbosAttribute(span.attributes, 'operationUUID', 'dbos.operation.workflow_id');
    const name = dbosAttribute(span.attributes, 'operationName', 'dbos.operation.name');
    if (typeof workflowId === 'string') span.setAttribute(ATTR_WORKFLOW_ID, workflowId);
    span.setAttribute(ATTR_STEP_NAME, typeof name === 'string' ? name : span.name);
    span.setAttribute(ATTR_APP_VERSION, this.appVersion);
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
