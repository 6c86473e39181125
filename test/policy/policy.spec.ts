import 'reflect-metadata';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GUARDS_METADATA, EXCEPTION_FILTERS_METADATA } from '@nestjs/common/constants.js';
import { LatticeExceptionFilter, ROLES_KEY, RolesGuard, projectRoot } from '#common';
import { OpsController } from '../../libs/control-plane/src/ops.controller.js';
import { IntentsController } from '../../libs/data-plane/src/intents.controller.js';
import { RunsController } from '../../libs/data-plane/src/runs.controller.js';

/**
 * Policy checks (the `quick` gate): the contract and the durability rules that no reviewer should
 * have to remember. They read the checked-in OpenAPI document and the sources.
 */
const root = projectRoot();
const openapi = JSON.parse(readFileSync(join(root, 'openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> } }>>;
  components: { schemas: Record<string, { additionalProperties?: unknown; properties?: unknown }> };
};

/** What a controller class declares: its guards, exception filters and roles (RolesGuard reads the last). */
function planeOf(controller: object): { guards: unknown; filters: unknown; roles: unknown } {
  return {
    guards: Reflect.getMetadata(GUARDS_METADATA, controller),
    filters: Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, controller),
    roles: Reflect.getMetadata(ROLES_KEY, controller),
  };
}

/** The paths a source file declares controllers on: @Controller('…'), @ApiController({ path: '…' }), @DataPlaneController('…'). */
function controllerPaths(text: string): string[] {
  return [...text.matchAll(/@(?:Controller\(|DataPlaneController\(|ApiController\(\{\s*path: )\s*'([^']*)'/g)].map((m) => m[1]!);
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (path.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(path)) out.push(path);
  }
  return out;
}
const appCode = [...sources(join(root, 'apps')), ...sources(join(root, 'libs'))].map((file) => ({
  file: relative(root, file),
  text: readFileSync(file, 'utf8'),
}));

describe('policy', () => {
  it('the control plane has exactly six routes, and nothing else lives under /api/ops', () => {
    const routes = Object.entries(openapi.paths)
      .filter(([path]) => path.startsWith('/api/ops'))
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(routes).toEqual([
      'GET /api/ops/wf',
      'GET /api/ops/wf/{id}',
      'GET /api/ops/wf/{id}/steps',
      'POST /api/ops/wf/{id}/cancel',
      'POST /api/ops/wf/{id}/fork',
      'POST /api/ops/wf/{id}/resume',
    ]);
    const controllers = appCode.filter((f) => controllerPaths(f.text).some((path) => path.startsWith('api/ops'))).map((f) => f.file);
    expect(controllers).toEqual(['libs/control-plane/src/ops.controller.ts']);
  });

  it('every contract schema is strict (additionalProperties: false)', () => {
    const loose = Object.entries(openapi.components.schemas)
      .filter(([, schema]) => schema.properties !== undefined && schema.additionalProperties !== false)
      .map(([name]) => name);
    expect(loose).toEqual([]);
    const bodies = Object.values(openapi.paths)
      .flatMap((item) => Object.values(item))
      .map((op) => op.requestBody?.content?.['application/json']?.schema?.$ref)
      .filter((ref): ref is string => ref !== undefined);
    expect(bodies.length).toBeGreaterThanOrEqual(5);
    for (const ref of bodies) expect(openapi.components.schemas[ref.split('/').pop()!]?.additionalProperties).toBe(false);
  });

  it('retries are allowed in exactly one step: ExecuteST', () => {
    // runEffectStep (libs/dbos/src/app-step.ts) is the one step kind that retries; ExecuteST is its one caller.
    const retrying = appCode.filter((f) => /retriesAllowed\s*:\s*true/.test(f.text));
    expect(retrying.map((f) => f.file)).toEqual(['libs/dbos/src/app-step.ts']);
    const effectSteps = appCode.flatMap((f) => [...f.text.matchAll(/runEffectStep\(\s*'(\w+)'/g)].map((m) => m[1]));
    expect(effectSteps).toEqual(['ExecuteST']);
    const retryingRunSteps = appCode.flatMap((f) =>
      [...f.text.matchAll(/DBOS\.runStep\([\s\S]*?\{\s*name:\s*'(\w+)'([\s\S]*?)\}\)/g)].filter((m) => /retriesAllowed:\s*true/.test(m[2]!)),
    );
    expect(retryingRunSteps).toEqual([]);
    expect(appCode.filter((f) => /@DBOS\.step\(|registerStep\(/.test(f.text)).map((f) => f.file)).toEqual([]);
  });

  it('application code has no process timers (durable sleep or a schedule instead)', () => {
    const offenders = appCode
      .filter((f) => /\b(setTimeout|setInterval)\s*\(/.test(f.text) || /from 'node:timers(\/promises)?'/.test(f.text))
      .map((f) => f.file);
    expect(offenders).toEqual([]);
  });

  it('application code carries no eslint-disable marker: the lint rules hold in apps/ and libs/ without exceptions', () => {
    const marked = appCode.filter((f) => /eslint-disable/.test(f.text)).map((f) => f.file);
    expect(marked).toEqual([]);
  });

  it('a plane never imports another plane', () => {
    const planes = ['data-plane', 'control-plane', 'proof'];
    const crossings: string[] = [];
    for (const { file, text } of appCode) {
      const plane = planes.find((p) => file.startsWith(`libs/${p}/`));
      if (!plane) continue;
      for (const other of planes.filter((p) => p !== plane)) {
        if (text.includes(`'#${other}'`) || new RegExp(`from '[./]*/${other}/`).test(text)) crossings.push(`${file} → ${other}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it('the shared libs (common, contracts, db, dbos, runs) never import a plane', () => {
    const planes = ['data-plane', 'control-plane', 'proof'];
    const crossings: string[] = [];
    for (const { file, text } of appCode) {
      if (!/^libs\/(common|contracts|db|dbos|runs)\//.test(file)) continue;
      for (const plane of planes) {
        if (text.includes(`'#${plane}'`) || new RegExp(`from '[./]*/${plane}/`).test(text)) crossings.push(`${file} → ${plane}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it('the run record (app.runs, run_steps, artifacts, task_receipts, task_attempts) is read and written only in libs/runs', () => {
    const table = '(?:runs|run_steps|artifacts|task_receipts|task_attempts)';
    const touch = new RegExp(
      `(?:insertInto|updateTable|deleteFrom|selectFrom|innerJoin|leftJoin)\\('app\\.${table}\\b|(?:INSERT INTO|UPDATE|DELETE FROM|FROM|JOIN) app\\.${table}\\b|app\\.claim_task\\(`,
    );
    const elsewhere = [...new Set(appCode.filter(({ file, text }) => touch.test(text) && !file.startsWith('libs/runs/')).map((f) => f.file))];
    expect(elsewhere).toEqual([]);
    // The check finds what it looks for: the run record's own repositories match it.
    expect(
      appCode
        .filter(({ file, text }) => file.startsWith('libs/runs/') && touch.test(text))
        .map((f) => f.file)
        .sort(),
    ).toEqual(['libs/runs/src/receipts.repository.ts', 'libs/runs/src/runs.repository.ts']);
  });

  it('every state-changing /api/ops route is a declared @AuditedAction for operators, behind RolesGuard', () => {
    const controller = appCode.find((f) => f.file === 'libs/control-plane/src/ops.controller.ts')!.text;
    expect(planeOf(OpsController)).toEqual({ guards: [RolesGuard], filters: [LatticeExceptionFilter], roles: ['viewer', 'operator'] });
    // Each route decorator with the decorators stacked under it, up to the handler's name.
    const routes = [...controller.matchAll(/@(Get|Post|Put|Patch|Delete|All)\(([^)]*)\)([\s\S]*?)\n\s+(\w+)\(/g)].map((m) => ({
      verb: m[1]!,
      handler: m[4]!,
      decorators: m[3]!,
    }));
    expect(routes.map((r) => `${r.verb} ${r.handler}`)).toEqual(['Get list', 'Get get', 'Get steps', 'Post cancel', 'Post resume', 'Post fork']);
    const unaudited = routes.filter((r) => r.verb !== 'Get' && !/@AuditedAction\('(cancel|resume|fork)'\)/.test(r.decorators)).map((r) => r.handler);
    expect(unaudited).toEqual([]);
    const notOperatorOnly = routes.filter((r) => r.verb !== 'Get' && !/@Roles\('operator'\)/.test(r.decorators)).map((r) => r.handler);
    expect(notOperatorOnly).toEqual([]);
  });

  it('every data-plane controller is RolesGuard + @Roles(client), and no controller anywhere lacks a guard', () => {
    // Every controller under /api is declared with ApiController (DataPlaneController in the data plane).
    const controllers = appCode.filter((f) => controllerPaths(f.text).some((path) => path.startsWith('api/')));
    expect(controllers.map((f) => f.file).sort()).toEqual([
      'libs/control-plane/src/ops.controller.ts',
      'libs/data-plane/src/intents.controller.ts',
      'libs/data-plane/src/runs.controller.ts',
    ]);
    expect(appCode.filter((f) => /@Controller\(\s*'api\//.test(f.text)).map((f) => f.file)).toEqual([]);
    // The rule is written on each controller, where a reader looks, not hidden in a shared decorator.
    for (const { file, text } of controllers) {
      expect({
        file,
        guard: /^@UseGuards\(RolesGuard\)$/m.test(text),
        roles: /^@Roles\('/m.test(text),
        filter: /^@UseFilters\(LatticeExceptionFilter\)$/m.test(text),
      }).toEqual({
        file,
        guard: true,
        roles: true,
        filter: true,
      });
    }
    for (const controller of [IntentsController, RunsController]) {
      expect({ controller: controller.name, ...planeOf(controller) }).toEqual({
        controller: controller.name,
        guards: [RolesGuard],
        filters: [LatticeExceptionFilter],
        roles: ['client'],
      });
    }
  });
});
