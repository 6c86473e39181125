import { splitSqlStatements } from './migrator.js';

describe('splitSqlStatements (db/system files)', () => {
  it('splits on a ; that ends a line, and drops whole-line comments', () => {
    const text = ['-- a comment;', 'CREATE VIEW a AS', '  SELECT 1;', '', 'CREATE INDEX i ON t (c);  ', '-- trailing'].join('\n');
    expect(splitSqlStatements(text)).toEqual(['CREATE VIEW a AS\n  SELECT 1', 'CREATE INDEX i ON t (c)']);
  });

  it('keeps a dollar-quoted body whole, its own semicolons and comments included', () => {
    const body = ['CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $body$', 'BEGIN', '  -- inside;', '  PERFORM 1;', 'END', '$body$;'];
    const text = [...body, 'SELECT $1::int;', 'CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;'].join('\n');
    expect(splitSqlStatements(text)).toEqual([
      body.join('\n').replace(/;$/, ''),
      'SELECT $1::int',
      'CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$',
    ]);
  });

  it('keeps a last statement without a ;', () => {
    expect(splitSqlStatements('SELECT 1;\nSELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
  });
});
