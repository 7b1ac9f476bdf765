/**
 * loadModel(id) through the Hugging Face cache, against a stand-in hub on loopback (helpers/hub-server.ts).
 * Every test has its own hub and its own temporary cache; HF_HOME points into the temporary folder so nothing
 * reads or writes ~/.cache.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../lib/cli';
import { isHubId } from '../lib/hub';
import type { LoadModelOptions, Model } from '../lib/model';
import { loadModel } from '../lib/model';
import type { StandInHub, StandInRepo } from './helpers/hub-server';
import { commitOf, fixtureFiles, gitOid, isLfs, sha256, startStandInHub } from './helpers/hub-server';

const fixtures = path.join(__dirname, 'fixtures');
const root = path.join(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-hub-'));

const UFB = 'test-org/ufb-tiny';
const MAIN = commitOf('ufb-tiny main');
const OLD = commitOf('ufb-tiny old');
const BERT = 'test-org/bert-tiny-mlm';
const ufbFiles = fixtureFiles(path.join(fixtures, 'ufb-tiny'));
const k2Files = fixtureFiles(path.join(fixtures, 'ufb-tiny-k2'));
const bertFiles = fixtureFiles(path.join(fixtures, 'bert-tiny-mlm'));

const repos: Record<string, StandInRepo> = {
  [UFB]: { commits: { [MAIN]: ufbFiles, [OLD]: k2Files }, refs: { main: MAIN, v1: OLD } },
  [BERT]: { commits: { [commitOf('bert')]: bertFiles }, refs: { main: commitOf('bert') } },
  'test-org/pickle-only': {
    commits: {
      [commitOf('p')]: { 'config.json': ufbFiles['config.json'], 'pytorch_model.bin': Buffer.from('not a pickle') },
    },
    refs: { main: commitOf('p') },
  },
  'test-org/sharded': {
    commits: {
      [commitOf('s')]: { 'config.json': ufbFiles['config.json'], 'model.safetensors.index.json': Buffer.from('{}') },
    },
    refs: { main: commitOf('s') },
  },
  'test-org/gated': { commits: { [MAIN]: ufbFiles }, refs: { main: MAIN }, gated: true },
};

const ENV_KEYS = [
  'HF_HOME',
  'HF_HUB_CACHE',
  'HUGGINGFACE_HUB_CACHE',
  'HF_ENDPOINT',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'HF_TOKEN_PATH',
  'HF_HUB_OFFLINE',
  'TRANSFORMERS_OFFLINE',
  'XDG_CACHE_HOME',
  'HF_HUB_DOWNLOAD_TIMEOUT',
];
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
let hub: StandInHub;
let cacheDir: string;
let caches = 0;

beforeAll(() => {
  for (const k of ENV_KEYS) delete process.env[k];
});
afterAll(() => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  for (const k of ENV_KEYS) delete process.env[k];
  cacheDir = path.join(tmp, `cache-${++caches}`);
  process.env.HF_HOME = path.join(tmp, `home-${caches}`);
  hub = await startStandInHub(repos);
  process.env.HF_ENDPOINT = hub.url;
});
afterEach(async () => {
  await hub.stop();
  // the stand-in knows every endpoint the client called
  expect(hub.unrouted).toEqual([]);
});

/** Loads, runs one forward and disposes: the config and the hidden states. */
async function loadAndRun(
  idOrDir: string,
  options?: LoadModelOptions,
): Promise<{ model: Model; hidden: Float32Array }> {
  const model = await loadModel(idOrDir, options);
  try {
    const out = await model.forward({ inputIds: [[2, 17, 33, 4, 3]] }, { logits: false });
    return { model, hidden: out.lastHiddenState };
  } finally {
    model.dispose();
  }
}

const repoDir = (cache: string, id: string): string => path.join(cache, `models--${id.replace('/', '--')}`);

/** Every file under `dir`, relative. */
function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => !fs.lstatSync(path.join(dir, f)).isDirectory());
}

/** Nothing half-written anywhere, and every blob's contents hash to its name. */
function expectCacheSound(cache: string): void {
  for (const f of walk(cache)) expect(f).not.toMatch(/\.(incomplete|tmp)$/);
  for (const id of fs.readdirSync(cache).filter((d) => d.startsWith('models--'))) {
    for (const name of walk(path.join(cache, id, 'blobs'))) {
      const data = fs.readFileSync(path.join(cache, id, 'blobs', name));
      expect([sha256(data), gitOid(data)]).toContain(name);
    }
  }
}

async function expectFolderResult(id: string, folder: string, options?: LoadModelOptions): Promise<Model> {
  const viaHub = await loadAndRun(id, { cacheDir, ...options });
  const direct = await loadAndRun(path.join(fixtures, folder));
  expect(viaHub.hidden).toEqual(direct.hidden);
  return viaHub.model;
}

/** loadModel(UFB) in a child process (the built dist/): its exit code, stdout ({ dir, hidden }) and stderr. */
function loadInChild(): {
  pid: number | undefined;
  kill: () => void;
  done: Promise<{ code: number | null; out: string; err: string }>;
} {
  expect(
    fs.existsSync(path.join(root, 'dist', 'index.js')),
    'the child processes load dist/: npm run build first',
  ).toBe(true);
  const script = `require(${JSON.stringify(path.join(root, 'dist', 'index.js'))}).loadModel(${JSON.stringify(UFB)}, { cacheDir: ${JSON.stringify(cacheDir)} })
    .then((m) => { console.log(JSON.stringify({ dir: m.dir, hidden: m.config.hiddenSize })); m.dispose(); })
    .catch((e) => { console.error(e.code, e.message); process.exitCode = 1; });`;
  const p = spawn(process.execPath, ['-e', script], { env: process.env });
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out, err }));
  });
  return { pid: p.pid, kill: () => p.kill('SIGKILL'), done };
}

describe('loadModel by hub id', () => {
  it('first download: only the model files, in the Python layout, verified, and the model runs as from its folder', async () => {
    const progress: { file: string; loaded: number; total: number }[] = [];
    const model = await expectFolderResult(UFB, 'ufb-tiny', { onProgress: (p) => progress.push(p) });
    const repo = repoDir(cacheDir, UFB);
    expect(model.dir).toBe(path.join(repo, 'snapshots', MAIN));
    expect(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8')).toBe(MAIN);
    expect(walk(path.join(repo, 'snapshots', MAIN)).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'model_config.json',
    ]);
    const st = ufbFiles['model.safetensors'];
    expect(fs.readlinkSync(path.join(repo, 'snapshots', MAIN, 'model.safetensors'))).toBe(
      path.join('..', '..', 'blobs', sha256(st)),
    );
    expect(fs.readlinkSync(path.join(repo, 'snapshots', MAIN, 'config.json'))).toBe(
      path.join('..', '..', 'blobs', gitOid(ufbFiles['config.json'])),
    );
    expect(walk(path.join(repo, 'blobs')).sort()).toEqual(
      [sha256(st), gitOid(ufbFiles['config.json']), gitOid(ufbFiles['model_config.json'])].sort(),
    );
    expect(walk(path.join(repo, '.no_exist', MAIN)).sort()).toEqual([
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expectCacheSound(cacheDir);
    // the hub client's own cache scanner reads it as one repository, one revision, refs main, three files
    const scan = await scanCacheDir(cacheDir);
    expect(scan.warnings).toEqual([]);
    expect(scan.repos.map((r) => [r.id, r.revisions.map((v) => [v.commitOid, v.refs, v.files.length])])).toEqual([
      [{ type: 'model', name: UFB }, [[MAIN, ['main'], 3]]],
    ]);
    expect(scan.size).toBe(st.length + ufbFiles['config.json'].length + ufbFiles['model_config.json'].length);
    expect(hub.requests.some((r) => r.includes('reference'))).toBe(false);
    expect(hub.requests).toContain(`GET /api/models/${UFB}/revision/main`);
    expect(hub.requests).toContain(`POST /api/models/${UFB}/paths-info/${MAIN}`);
    expect(hub.requests).toContain(`GET /${UFB}/resolve/${MAIN}/model.safetensors`);
    const last = progress.filter((p) => p.file === 'model.safetensors').at(-1);
    expect(last).toEqual({ file: 'model.safetensors', loaded: st.length, total: st.length });

    // Loaded again while the hub answers: one revision lookup, nothing downloaded.
    const before = hub.requests.length;
    await loadAndRun(UFB, { cacheDir });
    expect(hub.requests.slice(before)).toEqual([`GET /api/models/${UFB}/revision/main`]);
  });

  it('a cached model loads with the hub stopped; nothing cached and no hub is ERR_FFF_HUB_UNREACHABLE', async () => {
    const first = await loadAndRun(UFB, { cacheDir });
    await hub.stop();
    const again = await loadAndRun(UFB, { cacheDir });
    expect(again.model.dir).toBe(first.model.dir);
    expect(again.hidden).toEqual(first.hidden);
    await expect(loadModel(UFB, { cacheDir: path.join(tmp, 'empty-unreachable') })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_UNREACHABLE',
      message: expect.stringMatching(new RegExp(`${UFB}.*ECONNREFUSED.*HF_ENDPOINT.*HF_HUB_OFFLINE=1`)),
    });
  });

  it('offline (HF_HUB_OFFLINE=1 or the option): the cache only, never the network', async () => {
    await expect(loadModel(UFB, { cacheDir, offline: true })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_NOT_CACHED',
      message: expect.stringContaining(UFB),
    });
    process.env.HF_HUB_OFFLINE = '1';
    await expect(loadModel(UFB, { cacheDir })).rejects.toMatchObject({ code: 'ERR_FFF_HUB_NOT_CACHED' });
    expect(hub.requests).toEqual([]);
    delete process.env.HF_HUB_OFFLINE;
    await loadAndRun(UFB, { cacheDir });
    const before = hub.requests.length;
    process.env.HF_HUB_OFFLINE = 'true';
    await expectFolderResult(UFB, 'ufb-tiny');
    delete process.env.HF_HUB_OFFLINE;
    await expectFolderResult(UFB, 'ufb-tiny', { offline: true });
    expect(hub.requests.length).toBe(before);
    // a revision never resolved is not guessed offline
    await expect(loadModel(UFB, { cacheDir, offline: true, revision: 'v1' })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_NOT_CACHED',
    });
  });

  it('a pinned commit loads that commit and, once cached, makes no request at all', async () => {
    const model = await expectFolderResult(UFB, 'ufb-tiny-k2', { revision: OLD });
    expect(model.config.hiddenSize).toBe(48);
    expect(model.dir).toBe(path.join(repoDir(cacheDir, UFB), 'snapshots', OLD));
    expect(fs.existsSync(path.join(repoDir(cacheDir, UFB), 'refs'))).toBe(false);
    const before = hub.requests.length;
    expect(before).toBeGreaterThan(0);
    await expectFolderResult(UFB, 'ufb-tiny-k2', { revision: OLD });
    expect(hub.requests.length).toBe(before);
    // a tag resolves to the same commit and records it; the blobs are shared
    expect((await loadAndRun(UFB, { cacheDir, revision: 'v1' })).model.dir).toBe(model.dir);
    expect(fs.readFileSync(path.join(repoDir(cacheDir, UFB), 'refs', 'v1'), 'utf8')).toBe(OLD);
    expect(hub.requests.slice(before)).toEqual([`GET /api/models/${UFB}/revision/v1`]);
  });

  it('404s: unknown repo, unknown revision, no safetensors (pytorch_model.bin, sharded), a file not served; each naming the id', async () => {
    await expect(loadModel('test-org/absent', { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_REPO_NOT_FOUND',
      message: expect.stringMatching(/test-org\/absent.*check the id/),
    });
    await expect(loadModel(UFB, { cacheDir, revision: 'no-such-branch' })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_REVISION_NOT_FOUND',
      message: expect.stringMatching(new RegExp(`no-such-branch.*${UFB}`)),
    });
    await expect(loadModel('test-org/pickle-only', { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_NO_SAFETENSORS',
      message: expect.stringMatching(/test-org\/pickle-only.*pytorch_model\.bin.*unpickling.*can run arbitrary code/),
    });
    await expect(loadModel('test-org/sharded', { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_NO_SAFETENSORS',
      message: expect.stringMatching(/sharded/),
    });
    // a file the listing has but the hub does not serve (404 EntryNotFound on resolve)
    hub.faults.set('model.safetensors', 'missing');
    await expect(loadModel(UFB, { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_DOWNLOAD_FAILED',
      message: expect.stringMatching(
        new RegExp(`listed model\\.safetensors of ${UFB} at ${MAIN} but does not serve it`),
      ),
    });
    expect(fs.existsSync(path.join(repoDir(cacheDir, UFB), 'snapshots', MAIN, 'model.safetensors'))).toBe(false);
    expect(fs.existsSync(path.join(repoDir(cacheDir, UFB), 'refs', 'main'))).toBe(false);
    expect(hub.requests.some((r) => r.includes('pytorch_model.bin') && r.startsWith('GET'))).toBe(false);
    expect(
      walk(cacheDir).filter((f) => f.includes('blobs') && !f.startsWith(`models--${UFB.replace('/', '--')}`)),
    ).toEqual([]);
    expectCacheSound(cacheDir);
  });

  it('a gated repo: ERR_FFF_HUB_ACCESS_DENIED without a token or with a wrong one; the token (option or HF_TOKEN) opens it', async () => {
    await expect(loadModel('test-org/gated', { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_ACCESS_DENIED',
      message: expect.stringMatching(/test-org\/gated is gated or private and no token was given.*HF_TOKEN/),
    });
    const wrong = 'hf_wrong_secret_value';
    const err = await loadModel('test-org/gated', { cacheDir, token: wrong }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ERR_FFF_HUB_ACCESS_DENIED', message: expect.stringMatching(/has no access/) });
    expect((err as Error).message).not.toContain(wrong);
    hub.cdnAuthorization.length = 0;
    expect((await loadAndRun('test-org/gated', { cacheDir, token: hub.token })).model.config.hiddenSize).toBe(64);
    // the token goes to the hub only, never to the LFS storage the hub redirects to (another origin)
    expect(hub.cdnAuthorization.length).toBeGreaterThan(0);
    expect(hub.cdnAuthorization.every((a) => a === undefined)).toBe(true);
    process.env.HF_TOKEN = hub.token;
    expect(
      (await loadAndRun('test-org/gated', { cacheDir: path.join(tmp, 'gated-env') })).model.config.hiddenSize,
    ).toBe(64);
    // the token file of `huggingface-cli login`: $HF_HOME/token, or HF_TOKEN_PATH
    delete process.env.HF_TOKEN;
    fs.mkdirSync(process.env.HF_HOME as string, { recursive: true });
    fs.writeFileSync(path.join(process.env.HF_HOME as string, 'token'), `${hub.token}\n`);
    expect(
      (await loadAndRun('test-org/gated', { cacheDir: path.join(tmp, 'gated-file') })).model.config.hiddenSize,
    ).toBe(64);
    process.env.HF_TOKEN_PATH = path.join(tmp, 'no-token-here');
    await expect(loadModel('test-org/gated', { cacheDir: path.join(tmp, 'gated-path') })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_ACCESS_DENIED',
    });
  });

  it('a truncated response is refused and nothing is cached; the next load downloads it whole', async () => {
    hub.faults.set('model.safetensors', 'truncate');
    await expect(loadModel(UFB, { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_DOWNLOAD_FAILED',
      message: expect.stringMatching(
        /model\.safetensors of test-org\/ufb-tiny broke off after \d+ of 414476 bytes.*nothing was kept/,
      ),
    });
    const repo = repoDir(cacheDir, UFB);
    expect(fs.existsSync(path.join(repo, 'blobs', sha256(ufbFiles['model.safetensors'])))).toBe(false);
    expect(fs.existsSync(path.join(repo, 'snapshots', MAIN, 'model.safetensors'))).toBe(false);
    expect(fs.existsSync(path.join(repo, 'refs', 'main'))).toBe(false);
    expectCacheSound(cacheDir);
    await expect(loadModel(UFB, { cacheDir, offline: true })).rejects.toMatchObject({ code: 'ERR_FFF_HUB_NOT_CACHED' });
    hub.faults.clear();
    await expectFolderResult(UFB, 'ufb-tiny');
    expectCacheSound(cacheDir);
  });

  it('a corrupted blob (LFS sha256, or git sha1 of a small file) is refused and nothing is cached', async () => {
    hub.faults.set('model.safetensors', 'corrupt');
    await expect(loadModel(UFB, { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_INTEGRITY',
      message: expect.stringMatching(
        new RegExp(`model\\.safetensors of test-org/ufb-tiny.*sha256.*${sha256(ufbFiles['model.safetensors'])}`),
      ),
    });
    const repo = repoDir(cacheDir, UFB);
    expect(walk(path.join(repo, 'blobs'))).not.toContain(sha256(ufbFiles['model.safetensors']));
    expect(fs.existsSync(path.join(repo, 'snapshots', MAIN, 'model.safetensors'))).toBe(false);
    // the files verified before it (config.json, model_config.json) stay: a second cache for the small-file case
    hub.faults.clear();
    hub.faults.set('model_config.json', 'corrupt');
    const small = path.join(tmp, `${path.basename(cacheDir)}-small`);
    await expect(loadModel(UFB, { cacheDir: small })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_INTEGRITY',
      message: expect.stringMatching(/model_config\.json.*git sha1/),
    });
    expect(fs.existsSync(path.join(repoDir(small, UFB), 'snapshots', MAIN, 'model_config.json'))).toBe(false);
    expect(walk(path.join(repoDir(small, UFB), 'blobs'))).toEqual([gitOid(ufbFiles['config.json'])]);
    expectCacheSound(small);
    expectCacheSound(cacheDir);
    hub.faults.clear();
    await expectFolderResult(UFB, 'ufb-tiny');
  });

  it('a hub that stops answering is given up after HF_HUB_DOWNLOAD_TIMEOUT, never a hang', async () => {
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = '1';
    hub.faults.set('model.safetensors', 'stall');
    await expect(loadModel(UFB, { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_DOWNLOAD_FAILED',
      message: expect.stringMatching(
        /model\.safetensors of test-org\/ufb-tiny broke off after \d+ of 414476 bytes \(no data for 1 s/,
      ),
    });
    expectCacheSound(cacheDir);
    hub.faults.clear();
    hub.stallApi = true;
    await expect(loadModel(UFB, { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_UNREACHABLE',
      message: expect.stringMatching(/no data for 1 s/),
    });
    hub.stallApi = false;
    await loadAndRun(UFB, { cacheDir });
    hub.stallApi = true;
    await expectFolderResult(UFB, 'ufb-tiny'); // the cached snapshot of main stands in
  });

  it('two processes loading the same model at once leave one sound cache', async () => {
    hub.faults.set('model.safetensors', 'slow');
    const results = await Promise.all([loadInChild().done, loadInChild().done]);
    for (const r of results) {
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toEqual({ dir: path.join(repoDir(cacheDir, UFB), 'snapshots', MAIN), hidden: 64 });
    }
    expectCacheSound(cacheDir);
    expect(walk(path.join(repoDir(cacheDir, UFB), 'blobs'))).toHaveLength(3);
    await hub.stop();
    await expectFolderResult(UFB, 'ufb-tiny', { offline: true });
  });

  it('a process killed mid-download leaves nothing a later load takes; its temporary file goes once stale', async () => {
    hub.faults.set('model.safetensors', 'slow');
    const blobs = path.join(repoDir(cacheDir, UFB), 'blobs');
    const st = sha256(ufbFiles['model.safetensors']);
    const temps = (): string[] =>
      fs.existsSync(blobs) ? fs.readdirSync(blobs).filter((f) => f.endsWith('.incomplete')) : [];
    const child = loadInChild();
    const deadline = Date.now() + 60_000;
    while (!temps().some((f) => f.startsWith(st)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    child.kill();
    expect((await child.done).code).toBe(null);
    const [dead] = temps();
    expect(temps()).toHaveLength(1);
    expect(dead).toMatch(new RegExp(`^${st}\\.${child.pid}-[0-9a-f]+\\.incomplete$`));
    expect(fs.existsSync(path.join(blobs, st))).toBe(false);
    await expect(loadModel(UFB, { cacheDir, offline: true })).rejects.toMatchObject({ code: 'ERR_FFF_HUB_NOT_CACHED' });
    // the dead process's file an hour old, and one of a live writer
    const old = (Date.now() - 2 * 3600_000) / 1000;
    fs.utimesSync(path.join(blobs, dead), old, old);
    const live = `${st}.1-000000000000.incomplete`;
    fs.writeFileSync(path.join(blobs, live), 'partial');
    hub.faults.clear();
    await expectFolderResult(UFB, 'ufb-tiny');
    expect(temps()).toEqual([live]);
    fs.rmSync(path.join(blobs, live));
    expectCacheSound(cacheDir);
  });

  it('a cache written in the Python layout loads with HF_HUB_OFFLINE=1 (HF_HUB_CACHE, HF_HOME)', async () => {
    await hub.stop();
    const python = path.join(tmp, 'python-cache');
    const repo = repoDir(python, 'pbelcak/UltraFastBERT-tiny');
    const commit = commitOf('python');
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'snapshots', commit), { recursive: true });
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    for (const [name, data] of Object.entries(ufbFiles)) {
      const etag = isLfs(name) ? sha256(data) : gitOid(data);
      fs.writeFileSync(path.join(repo, 'blobs', etag), data);
      fs.symlinkSync(`../../blobs/${etag}`, path.join(repo, 'snapshots', commit, name));
    }
    fs.writeFileSync(path.join(repo, 'refs', 'main'), commit);
    process.env.HF_HUB_OFFLINE = '1';
    process.env.HF_HUB_CACHE = python;
    cacheDir = python;
    const model = await expectFolderResult('pbelcak/UltraFastBERT-tiny', 'ufb-tiny', { cacheDir: undefined });
    expect(model.dir).toBe(path.join(repo, 'snapshots', commit));
    delete process.env.HF_HUB_CACHE;
    process.env.HF_HOME = path.join(tmp, 'python-home');
    fs.mkdirSync(process.env.HF_HOME);
    fs.symlinkSync(python, path.join(process.env.HF_HOME, 'hub'));
    expect((await loadModel('pbelcak/UltraFastBERT-tiny')).config.hiddenSize).toBe(64);
    expect(fs.readdirSync(repo).sort()).toEqual(['blobs', 'refs', 'snapshots']);
    // an older download of a repository with pytorch_model.bin only: said so, not "missing"
    const pickled = repoDir(python, 'someone/old-bert');
    fs.mkdirSync(path.join(pickled, 'snapshots', commit), { recursive: true });
    fs.mkdirSync(path.join(pickled, 'refs'));
    fs.writeFileSync(path.join(pickled, 'refs', 'main'), commit);
    fs.writeFileSync(path.join(pickled, 'snapshots', commit, 'config.json'), ufbFiles['config.json']);
    fs.writeFileSync(path.join(pickled, 'snapshots', commit, 'pytorch_model.bin'), 'not read');
    await expect(loadModel('someone/old-bert')).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_NO_SAFETENSORS',
      message: expect.stringMatching(/someone\/old-bert.*only pytorch_model\.bin.*unpickling/),
    });
  });

  it('the CLI takes an id and shows download progress on a terminal', async () => {
    let stdout = '';
    let stderr = '';
    process.env.HF_HUB_CACHE = cacheDir;
    const io = {
      stdout: (t: string) => (stdout += t),
      stderr: (t: string) => (stderr += t),
      packageRoot: root,
      stderrIsTTY: true,
    };
    const code = await main(['fill-mask', BERT, 'paris is the [MASK] of france.', '--top-k', '2'], io);
    expect(stderr).toMatch(/downloading model\.safetensors: 4\.1 \/ 4\.1 MB \(100%\)\n/);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { token: string }[][];
    expect(result).toHaveLength(1);
    expect(result[0]).toHaveLength(2);
    stderr = '';
    io.stderrIsTTY = false;
    expect(await main(['fill-mask', BERT, 'paris is the [MASK] of france.', '--offline'], io)).toBe(0);
    expect(stderr).toBe('');
    expect(await main(['fill-mask', 'test-org/absent', 'a [MASK].'], io)).toBe(1);
    expect(stderr).toMatch(/^fffbert: Model test-org\/absent not found .* \(ERR_FFF_HUB_REPO_NOT_FOUND\)\n$/);
  });

  it('options and ids are checked; an existing folder is never taken for an id', async () => {
    for (const bad of ['../up', '/abs', 'a//b', 'x\\y']) {
      await expect(loadModel(UFB, { cacheDir, revision: bad })).rejects.toMatchObject({
        code: 'ERR_FFF_INVALID_ARGUMENT',
        message: expect.stringMatching(/options\.revision/),
      });
    }
    await expect(loadModel(UFB, { cacheDir, offline: 1 as unknown as boolean })).rejects.toMatchObject({
      code: 'ERR_FFF_INVALID_ARGUMENT',
    });
    const err = await loadModel(UFB, { cacheDir, token: 'secret\nx' }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'ERR_FFF_INVALID_ARGUMENT' });
    expect((err as Error).message).not.toContain('secret');
    expect(hub.requests).toEqual([]);
    const notAFolder = path.join(tmp, 'a-file');
    fs.writeFileSync(notAFolder, '');
    await expect(loadModel(UFB, { cacheDir: notAFolder })).rejects.toMatchObject({
      code: 'ERR_FFF_HUB_DOWNLOAD_FAILED',
      message: expect.stringMatching(
        /Cannot write test-org\/ufb-tiny into the Hugging Face cache .*a-file \(ENOTDIR on mkdir\): give a writable folder/,
      ),
    });
    hub.requests.length = 0;
    process.env.HF_ENDPOINT = 'huggingface.co';
    await expect(loadModel(UFB, { cacheDir })).rejects.toMatchObject({
      code: 'ERR_FFF_INVALID_ARGUMENT',
      message: expect.stringMatching(/HF_ENDPOINT to be an http\(s\) URL/),
    });
    process.env.HF_ENDPOINT = hub.url;
    for (const id of ['pbelcak/UltraFastBERT-1x11-long', 'google-bert/bert-base-uncased', 'a/b'])
      expect(isHubId(id)).toBe(true);
    for (const id of ['./a/b', 'a', 'a/b/c', '/a/b', 'a/../b', 'a--b/c', 'a/b.', '-a/b', 'C:\\a\\b'])
      expect(isHubId(id)).toBe(false);
    // a folder named like an id is a folder
    const cwd = process.cwd();
    const dir = path.join(tmp, 'cwd');
    fs.mkdirSync(path.join(dir, 'test-org'), { recursive: true });
    fs.cpSync(path.join(fixtures, 'ufb-tiny'), path.join(dir, UFB), { recursive: true });
    process.chdir(dir);
    try {
      expect((await loadAndRun(UFB, { cacheDir })).model.dir).toBe(UFB);
    } finally {
      process.chdir(cwd);
    }
    expect(hub.requests).toEqual([]);
  });
});
