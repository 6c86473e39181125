import { ValidationFailed } from '#common';
import type { Connector } from './connector.js';

/** The connectors tasks may name. Users add their own with register(), one file each. */
export class ConnectorRegistry {
  private readonly connectors = new Map<string, Connector>();

  constructor(connectors: readonly Connector[] = []) {
    for (const connector of connectors) this.register(connector);
  }

  register(connector: Connector): void {
    if (this.connectors.has(connector.name)) throw new Error(`connector "${connector.name}" is registered twice`);
    this.connectors.set(connector.name, connector);
  }

  names(): string[] {
    return [...this.connectors.keys()].sort();
  }

  get(name: string, path = 'connector'): Connector {
    const connector = this.connectors.get(name);
    if (!connector) throw new ValidationFailed([{ path, message: `unknown connector "${name}" (registered: ${this.names().join(', ')})` }]);
    return connector;
  }
}
