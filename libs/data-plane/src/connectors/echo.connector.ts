import { ApiProperty } from '@nestjs/swagger';
import { Allow } from 'class-validator';
import { ValidationFailed, validateContract } from '#common';
import type { Connector } from './connector.js';

export class EchoArgs {
  @ApiProperty({ description: 'Any JSON value, null included; returned as the task output' })
  @Allow()
  value!: unknown;
}

/** `{value}` → `{value}`: the smallest effect, for walkthroughs and tests. */
export class EchoConnector implements Connector<EchoArgs> {
  readonly name = 'echo';

  parseArgs(args: unknown, path: string): EchoArgs {
    const parsed = validateContract(EchoArgs, args, path);
    // Required, but any JSON value: present as an own key, null allowed (undefined has no JSON form).
    if (!Object.prototype.hasOwnProperty.call(args, 'value') || parsed.value === undefined)
      throw new ValidationFailed([{ path: `${path}.value`, message: 'value is required (any JSON value, null included)' }]);
    return parsed;
  }

  execute(args: EchoArgs): Promise<{ value: unknown }> {
    return Promise.resolve({ value: args.value });
  }
}
