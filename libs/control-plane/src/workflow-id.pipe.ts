import { Injectable, type PipeTransform } from '@nestjs/common';
import { ValidationFailed } from '#common';
import { WORKFLOW_ID } from '#contracts';

/** A path ID is printable ASCII, 1..200 characters; anything else is a 400 before any lookup. */
@Injectable()
export class WorkflowIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value !== 'string' || !WORKFLOW_ID.test(value)) {
      throw new ValidationFailed([{ path: 'id', message: 'id must be a workflow ID: 1..200 printable ASCII characters' }]);
    }
    return value;
  }
}
