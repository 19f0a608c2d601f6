import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatOptions, parseArgs, type OptionSpecs } from '../../src/cli/args.js';
import { CliError } from '../../src/cli/errors.js';

const SPECS: OptionSpecs = {
  engine: { kind: 'string', short: 'e', description: 'engine' },
  jobs: { kind: 'integer', short: 'j', valueName: 'N', description: 'jobs' },
  verbose: { kind: 'boolean', short: 'v', description: 'verbose' },
  input: { kind: 'list', description: 'inputs' },
  atol: { kind: 'number', description: 'tolerance' },
};

describe('parseArgs', () => {
  it('reads long, short, attached and inline values in any order', () => {
    const a = parseArgs(['dir1', '-e', 'cpu', '--jobs=4', 'dir2', '-v', '--input', 'x=1.pb', '--input', 'y=2.pb', '--atol', '1e-4'], SPECS);
    assert.deepEqual(a.positionals, ['dir1', 'dir2']);
    assert.equal(a.string('engine'), 'cpu');
    assert.equal(a.integer('jobs'), 4);
    assert.equal(a.flag('verbose'), true);
    assert.deepEqual(a.list('input'), ['x=1.pb', 'y=2.pb']);
    assert.equal(a.number('atol'), 1e-4);
    assert.equal(parseArgs(['-j8'], SPECS).integer('jobs'), 8);
  });

  it('treats everything after -- as positional, and negative numbers as values', () => {
    const a = parseArgs(['--', '-v', 'x'], SPECS);
    assert.deepEqual(a.positionals, ['-v', 'x']);
    assert.equal(a.flag('verbose'), false);
    assert.equal(parseArgs(['--atol', '-1'], SPECS).number('atol'), -1);
  });

  it('returns defaults for absent options', () => {
    const a = parseArgs([], SPECS);
    assert.equal(a.string('engine'), undefined);
    assert.equal(a.integer('jobs'), undefined);
    assert.deepEqual(a.list('input'), []);
  });

  it('rejects unknown options, missing values and bad numbers with CliError', () => {
    assert.throws(() => parseArgs(['--nope'], SPECS), (e: unknown) => e instanceof CliError && /unknown option '--nope'/.test(e.message));
    assert.throws(() => parseArgs(['-e'], SPECS), (e: unknown) => e instanceof CliError && /expects a value/.test(e.message));
    assert.throws(() => parseArgs(['-j', 'x'], SPECS).integer('jobs'), CliError);
    assert.throws(() => parseArgs(['-j', '0'], SPECS).integer('jobs', 1), (e: unknown) => e instanceof CliError && /\[1, /.test(e.message));
    assert.throws(() => parseArgs(['--verbose=1'], SPECS), CliError);
  });

  it('formats help with aliases and value names', () => {
    assert.match(formatOptions(SPECS), /-j, --jobs N +jobs/);
  });
});
