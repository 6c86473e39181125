import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { parseIds, readStdin } from './ids.js';

describe('parseIds (IDs on stdin or --ids)', () => {
  it('takes one ID per line or whitespace separated, skipping blanks', () => {
    expect(parseIds('run_a\nrun_b\n\n  run_c\trun_d  \r\nrun_e\n')).toEqual(['run_a', 'run_b', 'run_c', 'run_d', 'run_e']);
  });

  it('ignores # comments: whole lines and the rest of a line, but keeps a # inside an ID', () => {
    const text = ['# failed since the 14:00 deploy', 'run_a  # stuck', '   # indented comment', 'run_b#1', '#run_c', 'run_d'].join('\n');
    expect(parseIds(text)).toEqual(['run_a', 'run_b#1', 'run_d']);
  });

  it('drops duplicates, first occurrence wins', () => {
    expect(parseIds('run_b\nrun_a\nrun_b\nrun_a run_c')).toEqual(['run_b', 'run_a', 'run_c']);
  });

  it('returns nothing for empty input or only comments', () => {
    expect(parseIds('')).toEqual([]);
    expect(parseIds('\n\n   \n# nothing\n')).toEqual([]);
  });

  it('splits stdin on whitespace only; --ids also on commas', () => {
    expect(parseIds('a,b c')).toEqual(['a,b', 'c']);
    expect(parseIds('a,b, c,,d', /[\s,]+/)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reads all of a stream', async () => {
    expect(parseIds(await readStdin(Readable.from([Buffer.from('run_a\nru'), Buffer.from('n_b\n')])))).toEqual(['run_a', 'run_b']);
  });
});
