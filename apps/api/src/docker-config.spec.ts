import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, loadConfig, projectRoot } from '#common';

/**
 * Lints the container setup with what this machine has (no Docker engine, no compose plugin):
 * docker/Dockerfile, docker/docker-compose.yml, .dockerignore and .env.example, against each other
 * and against the code that reads the environment, so none of them can drift.
 */

const root = projectRoot();
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly name: string | undefined;
  readonly image: string;
  readonly instructions: Instruction[];
}

/** Instructions with line continuations joined; comment and blank lines dropped (also inside continuations, as Docker does). */
function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (buffer === '') start = index + 1;
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1).trim()} `;
      return;
    }
    buffer += trimmed;
    const [keyword = '', ...rest] = buffer.split(/\s+/);
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(' '), line: start });
    buffer = '';
  });
  if (buffer !== '') throw new Error(`Dockerfile ends inside a line continuation (from line ${start})`);
  return out;
}

function dockerStages(instructions: readonly Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const as = words.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({ image: words[0] ?? '', name: as >= 0 ? words[as + 1] : undefined, instructions: [] });
    } else {
      const current = stages.at(-1);
      if (!current) throw new Error(`${instruction.keyword} on line ${instruction.line} comes before any FROM`);
      current.instructions.push(instruction);
    }
  }
  return stages;
}

/** Exec form (JSON array) or shell form, split into words. */
function words(args: string): string[] {
  return args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/).filter(Boolean);
}

interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly destination: string;
  readonly line: number;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const all = words(i.args);
      const flags = all.filter((word) => word.startsWith('--'));
      const paths = all.filter((word) => !word.startsWith('--'));
      const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), destination: paths.at(-1) ?? '', line: i.line };
    });
}

/** `ENV A=1 B=2` and the legacy `ENV A 1`. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    if (!instruction.args.includes('=')) {
      const [name = '', ...value] = instruction.args.split(/\s+/);
      env[name] = value.join(' ');
      continue;
    }
    for (const match of instruction.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\S*)/g)) {
      env[match[1] ?? ''] = (match[2] ?? '').replace(/^(["'])(.*)\1$/, '$2');
    }
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// .dockerignore (the subset of its syntax this repo uses: *, **, ?, ! and directory prefixes)

function dockerignorePatterns(): string[] {
  if (!existsSync(join(root, '.dockerignore'))) return [];
  return read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

function patternRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/^\/+|\/+$/g, '')
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('**/', '\uE000')
    .replaceAll('**', '\uE001')
    .replaceAll('*', '[^/]*')
    .replaceAll('?', '[^/]')
    .replaceAll('\uE000', '(?:.*/)?')
    .replaceAll('\uE001', '.*');
  // A match on a folder excludes everything below it.
  return new RegExp(`^${escaped}(?:/.*)?$`);
}

function ignoredByDockerignore(path: string, patterns: readonly string[]): boolean {
  const normalized = relative(root, resolve(root, path)) || '.';
  let ignored = false;
  for (const pattern of patterns) {
    const negate = pattern.startsWith('!');
    if (patternRegExp(negate ? pattern.slice(1) : pattern).test(normalized)) ignored = !negate;
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

type EnvMap = Record<string, string | number | boolean | null>;

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: EnvMap | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: (string | number | { target: number; published?: string | number })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  profiles?: string[];
}

interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const composeText = read('docker/docker-compose.yml');
// Compose resolves YAML merge keys (<<: *anchor); so must the parser.
const compose = parse(composeText, { merge: true }) as Compose;
const services = compose.services;

function serviceEnv(service: ComposeService): Record<string, string> {
  const entries: [string, string][] = Array.isArray(service.environment)
    ? service.environment.map((entry): [string, string] => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      })
    : Object.entries(service.environment ?? {}).map(([name, value]): [string, string] => [name, value === null ? '' : String(value)]);
  return Object.fromEntries(entries);
}

function dependencies(service: ComposeService): Record<string, string | undefined> {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps)
    ? Object.fromEntries(deps.map((name) => [name, undefined]))
    : Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition]));
}

/** Container side of each published port ("3000:3000", "127.0.0.1:3000:3000/tcp", long form). */
function containerPorts(service: ComposeService): number[] {
  return (service.ports ?? []).map((port) => (typeof port === 'object' ? port.target : Number(String(port).split('/')[0]?.split(':').at(-1))));
}

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Every string in the parsed document (comments are not part of it). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, inner]) => [key, ...strings(inner)]);
  return [];
}

function interpolatedNames(value: string): string[] {
  return [...value.replaceAll('$$', '').matchAll(INTERPOLATION)].map((match) => match[1] ?? match[4] ?? '');
}

/** What compose would pass with none of the variables set in the shell: defaults only. */
function withDefaults(value: string): string {
  return value
    .replaceAll('$$', '\uE000')
    .replace(INTERPOLATION, (_all, _name: string, operator: string | undefined, word: string | undefined) =>
      operator === '-' || operator === ':-' ? (word ?? '') : '',
    )
    .replaceAll('\uE000', '$');
}

function buildsOurImage(service: ComposeService): boolean {
  if (service.build === undefined) return false;
  const build = typeof service.build === 'string' ? { context: service.build } : service.build;
  return resolve(root, 'docker', build.context ?? '.', build.dockerfile ?? 'Dockerfile') === join(root, 'docker', 'Dockerfile');
}

// ---------------------------------------------------------------------------------------------
// .env.example and the code that reads the environment

const envExample = read('.env.example').split('\n');
const ASSIGNMENT = /^#?\s?([A-Z][A-Z0-9_]*)=(.*)$/;
const documented = envExample.map((line) => ASSIGNMENT.exec(line)?.[1]).filter((name): name is string => name !== undefined);
/** The example value after each name (what an operator would uncomment). */
const examples = new Map(
  envExample.flatMap((line): [string, string][] => {
    const match = ASSIGNMENT.exec(line);
    return match ? [[match[1] ?? '', (match[2] ?? '').replace(/^(["'])(.*)\1$/, '$2')]] : [];
  }),
);

/** Every variable the service and the ops CLI read (libs/common/src/config.ts), OTEL_EXPORTER_OTLP_* spelled out as its three per-signal endpoints. */
const SPEC_VARIABLES = [
  'PORT',
  'DATABASE_URL',
  'DBOS_SYSTEM_DATABASE_URL',
  'APP_VERSION',
  'APP_ROLE',
  'DBOS_EXECUTOR_ID',
  'API_TOKENS',
  'OPS_API_TOKENS',
  'HTTP_CONNECTOR_ALLOWLIST',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
  'OTEL_SERVICE_NAME',
  'LOG_LEVEL',
  'OPS_API_URL',
  'OPS_ACTOR',
  'OPS_REASON',
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry) ? [path] : [];
  });
}

/**
 * Names config.ts passes to its readers (optional, port, postgresUrl, oneOf, allowlist, and any later
 * reader with the same (env, 'NAME') shape), and env['X'] / process.env.X anywhere in apps/ and libs/.
 */
function variablesReadByCode(): Map<string, string> {
  const found = new Map<string, string>();
  const config = read('libs/common/src/config.ts');
  for (const match of config.matchAll(/\b(?:optional|port|postgresUrl|oneOf|allowlist|\w+)\(\s*env\s*,\s*'([A-Z_][A-Z0-9_]*)'/g)) {
    found.set(match[1] ?? '', 'libs/common/src/config.ts');
  }
  // Harnesses (bench, chaos) pass their own variables to their child processes; the OS provides the rest.
  const harness = /apps\/api\/src\/(bench|chaos)\//;
  const operatingSystem = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'TERM', 'CI']);
  for (const file of [...sourceFiles(join(root, 'apps')), ...sourceFiles(join(root, 'libs'))].filter((f) => !harness.test(relative(root, f)))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\benv\[\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*\]|\bprocess\.env\.([A-Z_][A-Z0-9_]*)/g)) {
      const name = match[1] ?? match[2] ?? '';
      if (!operatingSystem.has(name)) found.set(name, relative(root, file));
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

const instructions = dockerInstructions(read('docker/Dockerfile'));
const stages = dockerStages(instructions);
const runtime = stages.at(-1)!;
const api = services['api']!;
const worker = services['worker']!;

describe('docker/Dockerfile', () => {
  it('is a multi-stage build whose last stage is the runtime', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.map((stage) => stage.name)).toEqual(expect.arrayContaining(['build', 'runtime']));
    expect(runtime.name).toBe('runtime');
  });

  it('runs the runtime stage as a non-root user', () => {
    const user = runtime.instructions
      .filter((i) => i.keyword === 'USER')
      .at(-1)
      ?.args.trim();
    expect(user).toBeDefined();
    expect(['root', '0', '0:0', 'root:root']).not.toContain(user);
  });

  it('has a HEALTHCHECK on /healthz and exposes the port the service listens on', () => {
    const healthcheck = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK');
    expect(healthcheck?.args).toMatch(/\/healthz/);
    expect(healthcheck?.args).not.toMatch(/^NONE\b/i);
    const exposed = runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => words(i.args).map((port) => Number(port.split('/')[0])));
    // The port the image's ENV makes the service listen on (NODE_ENV aside: production also wants tokens).
    expect(exposed).toContain(loadConfig({ ...envOf(runtime), NODE_ENV: undefined }).port);
  });

  it('copies only paths that exist in the build context and that .dockerignore lets through', () => {
    const ignore = dockerignorePatterns();
    const fromContext = stages.flatMap(copies).filter((copy) => copy.from === undefined);
    expect(fromContext.length).toBeGreaterThan(0);
    for (const copy of fromContext) {
      for (const source of copy.sources) {
        expect({ line: copy.line, source, exists: existsSync(join(root, source)), ignored: ignoredByDockerignore(source, ignore) }).toEqual({
          line: copy.line,
          source,
          exists: true,
          ignored: false,
        });
      }
    }
  });

  it('builds with `npm run build` (nest build, from nest-cli.json) and gives the build stage everything it compiles', () => {
    const build = stages.find((stage) => stage.name === 'build')!;
    const copied = copies(build)
      .filter((copy) => copy.from === undefined)
      .flatMap((copy) => copy.sources.map((source) => relative(root, resolve(root, source)) || '.'));
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts['build']).toMatch(/^nest build /);
    expect(build.instructions.some((i) => i.keyword === 'RUN' && i.args.startsWith('npm run build'))).toBe(true);
    const nest = JSON.parse(read('nest-cli.json')) as { compilerOptions: { builder: string; tsConfigPath: string } };
    expect(nest.compilerOptions).toMatchObject({ builder: 'tsc', tsConfigPath: 'tsconfig.build.json' });
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { extends?: string; include: string[] };
    const needed = [
      'package.json',
      'package-lock.json',
      'nest-cli.json',
      'tsconfig.build.json',
      ...(tsconfig.extends ? [tsconfig.extends] : []),
      ...tsconfig.include,
    ];
    for (const path of needed.map((p) => relative(root, resolve(root, p)))) {
      expect({ path, copied: copied.some((source) => source === '.' || path === source || path.startsWith(`${source}/`)) }).toEqual({ path, copied: true });
    }
  });

  it('ships package.json (projectRoot), the pruned node_modules, dist/ and db/ migrations in the runtime stage', () => {
    const shipped = copies(runtime).flatMap((copy) => copy.sources.map((source) => source.replace(/^\/app\//, '').replace(/\/$/, '')));
    expect(shipped).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'node_modules', 'dist', 'db']));
    expect(existsSync(join(root, 'db', 'migrations'))).toBe(true);
    const fromStages = copies(runtime).flatMap((copy) => (copy.from ? [copy.from] : []));
    for (const from of fromStages) expect(stages.map((stage) => stage.name)).toContain(from);
  });

  it('starts the compiled entry point of apps/api/src/main.ts', () => {
    const cmd = words(runtime.instructions.filter((i) => i.keyword === 'CMD').at(-1)?.args ?? '[]');
    expect(cmd).toEqual(['node', 'dist/apps/api/src/main.js']);
    expect(existsSync(join(root, 'apps/api/src/main.ts'))).toBe(true);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts['start']).toBe(cmd.join(' '));
  });

  it('has a .dockerignore that keeps host builds, data and secrets out of the context', () => {
    const ignore = dockerignorePatterns();
    for (const path of ['node_modules', 'dist', '.data', '.git', '.env', 'coverage', 'bench/results', 'e2e/artifacts', 'npm-debug.log']) {
      expect({ path, ignored: ignoredByDockerignore(path, ignore) }).toEqual({ path, ignored: true });
    }
    expect(ignoredByDockerignore('.env.example', ignore)).toBe(false);
  });
});

describe('docker/docker-compose.yml', () => {
  it('has the postgres, api and worker services', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'api', 'worker']));
    expect(services['postgres']?.image).toMatch(/^postgres:17\b/);
  });

  it('only depends on services that exist, and waits for health only where there is a healthcheck', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, condition] of Object.entries(dependencies(service))) {
        expect({ name, dependency, exists: dependency in services }).toEqual({ name, dependency, exists: true });
        if (condition === 'service_healthy')
          expect({ name, dependency, healthcheck: services[dependency]?.healthcheck !== undefined }).toEqual({ name, dependency, healthcheck: true });
      }
    }
    expect(dependencies(api)['postgres']).toBe('service_healthy');
    expect(dependencies(worker)['postgres']).toBe('service_healthy');
  });

  it('gives postgres a pg_isready healthcheck and a named volume', () => {
    const postgres = services['postgres']!;
    expect(strings(postgres.healthcheck?.test).join(' ')).toMatch(/pg_isready/);
    const volumes = strings((postgres as { volumes?: unknown }).volumes).map((volume) => volume.split(':')[0]);
    expect(volumes.some((volume) => volume !== undefined && volume in (compose.volumes ?? {}))).toBe(true);
  });

  it('builds api and worker from docker/Dockerfile with the repository root as context', () => {
    expect(buildsOurImage(api)).toBe(true);
    expect(buildsOurImage(worker)).toBe(true);
  });

  it('points api at the postgres service with its credentials and database', () => {
    const url = new URL(withDefaults(serviceEnv(api)['DATABASE_URL'] ?? ''));
    const pgEnv = serviceEnv(services['postgres']!);
    expect(url.hostname).toBe('postgres');
    expect(url.port || '5432').toBe('5432');
    expect(decodeURIComponent(url.pathname.slice(1))).toBe(pgEnv['POSTGRES_DB']);
    expect(decodeURIComponent(url.username)).toBe(pgEnv['POSTGRES_USER'] ?? 'postgres');
    expect(decodeURIComponent(url.password)).toBe(pgEnv['POSTGRES_PASSWORD']);
  });

  it('health-checks api on /healthz and publishes the port the Dockerfile exposes', () => {
    expect(api.healthcheck?.disable).not.toBe(true);
    expect(strings(api.healthcheck?.test).join(' ')).toMatch(/\/healthz/);
    const exposed = runtime.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => words(i.args).map((port) => Number(port.split('/')[0])));
    expect(containerPorts(api).length).toBeGreaterThan(0);
    for (const port of containerPorts(api)) expect(exposed).toContain(port);
  });

  it('runs a worker only under the scale profile, unpublished, with its own executor ID', () => {
    expect(worker.profiles).toEqual(['scale']);
    expect(worker.ports ?? []).toEqual([]);
    expect(api.profiles ?? []).toEqual([]);
    expect(withDefaults(serviceEnv(worker)['APP_ROLE'] ?? '')).toBe('worker');
    expect(withDefaults(serviceEnv(api)['APP_ROLE'] ?? '')).toBe('all');
    const executorIds = [api, worker].map((service) => withDefaults(serviceEnv(service)['DBOS_EXECUTOR_ID'] ?? ''));
    expect(executorIds).toEqual(['api-1', 'worker-1']);
  });

  /** Dockerfile ENV, then the service's environment as compose resolves it with nothing set in the shell. */
  const bootEnv = (service: ComposeService): Record<string, string> => ({
    ...envOf(runtime),
    ...Object.fromEntries(Object.entries(serviceEnv(service)).map(([key, value]) => [key, withDefaults(value)])),
  });
  const appServices = Object.entries(services).filter(([, service]) => buildsOurImage(service));
  /** The one line the boot would print, or '' when the environment is accepted. */
  const configProblem = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
      return '';
    } catch (error) {
      return error instanceof ConfigError ? error.message : String(error);
    }
  };

  it('leaves only API_TOKENS (or its alias OPS_API_TOKENS) for the operator to set: production refuses to boot without it', () => {
    expect(appServices.length).toBeGreaterThan(0);
    for (const [name, service] of appServices) {
      const env = bootEnv(service);
      expect({ name, NODE_ENV: env['NODE_ENV'], API_TOKENS: env['API_TOKENS'], OPS_API_TOKENS: env['OPS_API_TOKENS'] }).toEqual({
        name,
        NODE_ENV: 'production',
        API_TOKENS: '',
        OPS_API_TOKENS: '',
      });
      expect({ name, problem: configProblem(env) }).toEqual({
        name,
        problem: expect.stringMatching(/^Invalid configuration: API_TOKENS must list a client token/),
      });
      // Control-plane tokens alone (the setup before the data plane had tokens) are still refused.
      const opsOnly = { ...env, OPS_API_TOKENS: 'alice:operator:a-long-enough-operator-token' };
      expect({ name, problem: configProblem(opsOnly) }).toEqual({
        name,
        problem: expect.stringMatching(/^Invalid configuration: API_TOKENS must list a client token/),
      });
    }
    expect(composeText).toMatch(/production refuses to boot without it/);
  });

  it('gives every service built from the Dockerfile an environment the service accepts (loadConfig), given .env.example values for what is left empty', () => {
    for (const [name, service] of appServices) {
      const env = bootEnv(service);
      for (const [key, value] of Object.entries(env)) if (value === '' && examples.get(key)) env[key] = examples.get(key) ?? '';
      const config = loadConfig(env);
      expect({ name, port: config.port, production: config.production, role: config.appRole }).toEqual({
        name,
        port: containerPorts(api)[0],
        production: true,
        role: name === 'worker' ? 'worker' : 'all',
      });
    }
  });

  it('uses only variables that .env.example documents', () => {
    const used = new Set(strings(compose).flatMap(interpolatedNames));
    for (const service of Object.values(services).filter(buildsOurImage)) for (const name of Object.keys(serviceEnv(service))) used.add(name);
    for (const name of Object.keys(envOf(runtime))) used.add(name);
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((name) => !documented.includes(name))).toEqual([]);
  });
});

describe('.env.example', () => {
  it('documents every variable the configuration reads', () => {
    expect(SPEC_VARIABLES.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('documents every variable the code reads', () => {
    const readByCode = variablesReadByCode();
    // The regexes must keep finding config.ts's readers, or this test would pass vacuously.
    expect([...readByCode.keys()]).toEqual(expect.arrayContaining(['PORT', 'DATABASE_URL', 'APP_ROLE', 'LOG_LEVEL', 'NODE_ENV']));
    const missing = [...readByCode].filter(([name]) => !documented.includes(name)).map(([name, file]) => `${name} (read in ${file})`);
    expect(missing).toEqual([]);
  });

  it('lists each variable once, commented out or empty, under a one-line description', () => {
    expect(documented.filter((name, index) => documented.indexOf(name) !== index)).toEqual([]);
    envExample.forEach((line, index) => {
      const match = ASSIGNMENT.exec(line);
      if (!match) return;
      const previous = envExample[index - 1] ?? '';
      expect({ line, commentedOrEmpty: line.startsWith('#') || match[2] === '' }).toEqual({ line, commentedOrEmpty: true });
      expect({ line, described: previous.startsWith('#') && !ASSIGNMENT.test(previous) && previous.replace(/^#\s*/, '').length > 0 }).toEqual({
        line,
        described: true,
      });
    });
  });
});

describe('docker/ telemetry: collector and Prometheus', () => {
  interface Pipeline {
    receivers?: string[];
    exporters?: string[];
  }
  const collector = parse(read('docker/otel-collector.yaml')) as {
    exporters: Record<string, { endpoint?: string } | null>;
    service: { pipelines: Record<string, Pipeline> };
  };
  const prometheus = parse(read('docker/prometheus.yml')) as {
    scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  };
  const targets = (job: string): string[] => prometheus.scrape_configs.find((c) => c.job_name === job)?.static_configs.flatMap((s) => s.targets) ?? [];
  const mounts = (name: string): string[] => strings((services[name] as { volumes?: unknown } | undefined)?.volumes).map((v) => v.split(':')[0] ?? '');

  it('forwards the OTLP metrics the services push to an exporter that Prometheus scrapes', () => {
    const metrics = collector.service.pipelines['metrics'];
    expect(metrics?.receivers).toContain('otlp');
    const exporter = (metrics?.exporters ?? []).find((name) => name.split('/')[0] === 'prometheus');
    expect(exporter).toBeDefined();
    const port = collector.exporters[exporter!]?.endpoint?.split(':').at(-1);
    expect(targets('otel-collector')).toContain(`otel-collector:${port}`);
    expect(Object.keys(collector.exporters)).toEqual(expect.arrayContaining(metrics?.exporters ?? []));
  });

  it("scrapes every service's GET /metrics on the port it listens on", () => {
    const job = prometheus.scrape_configs.find((c) => c.job_name === 'durable-ops');
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    const port = String(
      serviceEnv(api)['PORT'] ?? runtime.instructions.find((i) => i.keyword === 'ENV' && /PORT=/.test(i.args))?.args.match(/PORT=(\d+)/)?.[1],
    );
    expect(targets('durable-ops')).toEqual(expect.arrayContaining([`api:${port}`, `worker:${port}`]));
  });

  it('runs Prometheus with docker/prometheus.yml, and pushes metrics from api and worker', () => {
    const service = services['prometheus'];
    expect(service?.image).toMatch(/^prom\/prometheus:/);
    expect(mounts('prometheus')).toContain('./prometheus.yml');
    expect(mounts('otel-collector')).toContain('./otel-collector.yaml');
    for (const app of [api, worker]) {
      const env = serviceEnv(app);
      expect(env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']).toMatch(/^http:\/\/otel-collector:4318/);
      const telemetry = loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: env['OTEL_EXPORTER_OTLP_ENDPOINT'],
        OTEL_METRIC_EXPORT_INTERVAL: env['OTEL_METRIC_EXPORT_INTERVAL'],
      }).telemetry;
      expect(telemetry.metricsEndpoint).toBe('http://otel-collector:4318/v1/metrics');
    }
  });
});
