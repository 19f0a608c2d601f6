// Tool servers (toolchain/tool-server.ts): a run through a tool's server ends
// as the same run spawned directly would (output, exit code, signal,
// timeout, output cap), and whatever a server cannot carry goes direct.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveOptions } from '../../src/ep/options.js';
import { ToolServers, type ToolExit } from '../../src/toolchain/tool-server.js';
import { runDirect } from '../../src/toolchain/tools.js';

const HOME = resolveOptions({}).toolchainHome;
const HAVE_TOOLS = ['llc', 'ld.lld', 'mlir-opt'].every((t) => existsSync(join(HOME, 'bin', t)));
const TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 64;

/** A home whose llc and ld.lld (which build the preload library) are the real ones, beside test scripts (which answer --version at once). */
async function home(scripts: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tool-server-'));
  await mkdir(join(dir, 'bin'));
  for (const t of ['llc', 'ld.lld', 'mlir-opt']) await symlink(join(HOME, 'bin', t), join(dir, 'bin', t));
  for (const [name, body] of Object.entries(scripts)) await writeFile(join(dir, 'bin', name), `#!/bin/sh\n[ "$1" = --version ] && exit 0\n${body}\n`, { mode: 0o755 });
  return dir;
}

/** Servers for `tools` of `dir`, once their library is built and they listen. */
async function ready(dir: string, tools: string[], maxOutput = MAX_OUTPUT): Promise<ToolServers> {
  const servers = new ToolServers(runDirect, maxOutput);
  servers.want(dir, TIMEOUT_MS);
  for (const p of tools.map((t) => join(dir, 'bin', t))) {
    for (let i = 0; ; i++) {
      if (await servers.run(dir, p, ['--version'], TIMEOUT_MS)) break;
      assert.ok(i < 200, `no server for ${p}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return servers;
}

function same(a: ToolExit, b: ToolExit): void {
  assert.deepEqual({ ...a, spawnError: undefined }, { ...b, spawnError: undefined });
}

describe('tool servers', { skip: !HAVE_TOOLS && 'no toolchain' }, () => {
  it('serve mlir-opt as running it directly does: output, failure and exit code', async () => {
    const dir = await home({});
    const servers = await ready(dir, ['mlir-opt'], 1 << 20);
    const tool = join(dir, 'bin', 'mlir-opt');
    for (const argv of [['--version'], ['--no-such-flag'], ['/no/such/input.mlir']]) {
      const served = await servers.run(dir, tool, argv, TIMEOUT_MS);
      assert.ok(served, `${argv.join(' ')} was served`);
      same(served, await runDirect(tool, argv, TIMEOUT_MS));
    }
  });

  it('carry a script\'s arguments, a crash\'s signal, a timeout and the output cap', async () => {
    const dir = await home({
      echo: 'echo "args: $*"; echo "to stderr" >&2; exit 3',
      segv: 'kill -SEGV $$',
      hang: 'sleep 30',
      chatty: 'head -c 1000 /dev/zero',
    });
    const servers = await ready(dir, ['echo', 'segv', 'hang', 'chatty']);
    const bin = (t: string) => join(dir, 'bin', t);
    assert.deepEqual(await servers.run(dir, bin('echo'), ['a', 'b c'], TIMEOUT_MS), { code: 3, signal: null, stdout: 'args: a b c\n', stderr: 'to stderr\n', why: null });
    assert.equal((await servers.run(dir, bin('segv'), ['x'], TIMEOUT_MS))?.signal, 'SIGSEGV');
    const start = performance.now();
    const hung = await servers.run(dir, bin('hang'), ['x'], 300);
    assert.match(hung?.why ?? '', /timed out after 300 ms/);
    assert.equal(hung?.signal, 'SIGKILL');
    assert.ok(performance.now() - start < 10_000, 'the hung child was killed');
    assert.match((await servers.run(dir, bin('chatty'), ['x'], TIMEOUT_MS))?.why ?? '', new RegExp(`printed more than ${MAX_OUTPUT} bytes`));
  });

  it('leave to a direct run what the line protocol cannot carry, and the tools of a home not wanted', async () => {
    const dir = await home({ echo: 'echo "$*"' });
    const servers = await ready(dir, ['echo']);
    const echo = join(dir, 'bin', 'echo');
    assert.equal(await servers.run(dir, echo, ['a\tb'], TIMEOUT_MS), null);
    assert.equal(await servers.run(dir, echo, ['a\nb'], TIMEOUT_MS), null);
    assert.equal(await servers.run(dir, echo, [''], TIMEOUT_MS), null);
    assert.equal(await servers.run(dir, echo, new Array<string>(1025).fill('x'), TIMEOUT_MS), null);
    const other = await home({});
    assert.equal(await servers.run(other, join(other, 'bin', 'mlir-opt'), ['--version'], TIMEOUT_MS), null);
  });
});
