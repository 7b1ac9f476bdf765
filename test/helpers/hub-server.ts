/**
 * A stand-in for the Hugging Face hub on 127.0.0.1 (an ephemeral port): the endpoints @huggingface/hub calls for
 * loadModel(id), with the hub's headers and error codes, serving folders of test/fixtures as repositories.
 *   GET  /api/models/{id}/revision/{rev}      model info with `sha` (the revision's commit)
 *   POST /api/models/{id}/paths-info/{rev}    [{ type, path, size, oid, lfs?: { oid: sha256, size, pointerSize } }]
 *   GET  /{id}/resolve/{rev}/{file}           X-Repo-Commit, ETag (git oid) or X-Linked-Etag/X-Linked-Size and a
 *                                             302 to /cdn/{sha256} on a second server (another origin, as the
 *                                             hub's LFS storage) for LFS files; Range requests answered 206
 * Errors: 404 + X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound; 401 GatedRepo on resolve for a gated
 * repository without the right token. Faults for one file: truncate (Content-Length of the whole file, half the
 * bytes, then the connection closes), corrupt (one byte flipped), slow (chunks of 8 KB, 20 ms apart: about a
 * second for ufb-tiny), stall (half the bytes, then silence with the connection open), missing (paths-info lists
 * the file, resolve answers 404 EntryNotFound); `stallApi` leaves every
 * /api request unanswered. Requests no route answers are listed in `unrouted`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export type Fault = 'truncate' | 'corrupt' | 'slow' | 'stall' | 'missing';

export interface StandInRepo {
  /** commit hash -> file name -> contents */
  commits: Record<string, Record<string, Buffer>>;
  /** branch or tag -> commit hash */
  refs: Record<string, string>;
  gated?: boolean;
}

export interface StandInHub {
  url: string;
  /** "METHOD /path" of every request received. */
  requests: string[];
  /** file name -> fault, applied to full downloads of that file. */
  faults: Map<string, Fault>;
  /** Leave /api requests unanswered (a hub that accepts connections and says nothing). */
  stallApi: boolean;
  /** The Authorization header of every request the LFS storage server received. */
  cdnAuthorization: (string | undefined)[];
  /** Requests that matched no endpoint of the hub (the client called something the stand-in does not know). */
  unrouted: string[];
  /** The token a gated repository accepts. */
  readonly token: string;
  stop(): Promise<void>;
}

export const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
export const gitOid = (b: Buffer): string =>
  crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
/** A made-up commit hash. */
export const commitOf = (label: string): string => crypto.createHash('sha1').update(label).digest('hex');
export const isLfs = (name: string): boolean => /\.(safetensors|bin)$/.test(name);

/** The model files of a fixture folder (reference.* and other test files are left out). */
export function fixtureFiles(dir: string, names?: string[]): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const name of names ?? fs.readdirSync(dir)) {
    if (!name.startsWith('reference')) files[name] = fs.readFileSync(path.join(dir, name));
  }
  return files;
}

function lfsPointer(b: Buffer): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(b)}\nsize ${b.length}\n`);
}

function fail(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Error-Code': code });
  res.end(JSON.stringify({ error: message }));
}

/** Serves `data` honouring a Range header, with `fault` applied to a full GET. */
function serveBytes(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  data: Buffer,
  headers: Record<string, string>,
  fault: Fault | undefined,
): void {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range !== null) {
    const start = Number(range[1]);
    const end = Math.min(range[2] === '' ? data.length - 1 : Number(range[2]), data.length - 1);
    res.writeHead(206, {
      ...headers,
      'Content-Range': `bytes ${start}-${end}/${data.length}`,
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
    });
    res.end(req.method === 'HEAD' ? undefined : data.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': String(data.length), 'Accept-Ranges': 'bytes' });
  if (req.method === 'HEAD') return void res.end();
  if (fault === 'stall') {
    res.write(data.subarray(0, data.length >> 1));
  } else if (fault === 'truncate') {
    res.write(data.subarray(0, data.length >> 1), () => res.destroy());
  } else if (fault === 'corrupt') {
    const bad = Buffer.from(data);
    bad[bad.length >> 1] ^= 0x5a;
    res.end(bad);
  } else if (fault === 'slow') {
    let at = 0;
    const next = (): void => {
      if (at >= data.length) return void res.end();
      res.write(data.subarray(at, at + 8192));
      at += 8192;
      setTimeout(next, 20);
    };
    next();
  } else {
    res.end(data);
  }
}

export async function startStandInHub(repos: Record<string, StandInRepo>): Promise<StandInHub> {
  const requests: string[] = [];
  const unrouted: string[] = [];
  const cdnAuthorization: (string | undefined)[] = [];
  let cdnUrl = '';
  const faults = new Map<string, Fault>();
  const token = 'hf_standin_token';
  const blobs = new Map<string, { data: Buffer; name: string }>();
  for (const repo of Object.values(repos)) {
    for (const files of Object.values(repo.commits))
      for (const [name, data] of Object.entries(files)) blobs.set(sha256(data), { data, name });
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(`${req.method} ${url.pathname}`);
    if (url.pathname.startsWith('/cdn/')) cdnAuthorization.push(req.headers.authorization);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (parts[0] === 'cdn') {
        const blob = blobs.get(parts[1]);
        if (blob === undefined) return fail(res, 404, 'EntryNotFound', 'no such object');
        return serveBytes(req, res, blob.data, { ETag: `"${parts[1]}"` }, faults.get(blob.name));
      }
      const api = parts[0] === 'api' && parts[1] === 'models';
      if (api && hub.stallApi) return;
      const [org, name, verb, rev, ...rest] = api ? parts.slice(2) : parts;
      const id = `${org}/${name}`;
      const repo = repos[id];
      if (repo === undefined) return fail(res, 404, 'RepoNotFound', `Repository not found: ${id}`);
      const commit = repo.refs[rev] ?? (repo.commits[rev] !== undefined ? rev : undefined);
      if (commit === undefined) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      const files = repo.commits[commit];
      if (api && verb === 'revision' && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(
          JSON.stringify({
            _id: commitOf(id).slice(0, 24),
            id,
            sha: commit,
            private: false,
            gated: repo.gated ? 'auto' : false,
            downloads: 0,
            likes: 0,
            lastModified: '2024-01-01T00:00:00.000Z',
            pipeline_tag: 'fill-mask',
          }),
        );
      }
      if (api && verb === 'paths-info' && req.method === 'POST') {
        const asked = (JSON.parse(body) as { paths: string[] }).paths;
        const infos = asked
          .filter((p) => files[p] !== undefined)
          .map((p) => {
            const data = files[p];
            if (!isLfs(p)) return { type: 'file', path: p, size: data.length, oid: gitOid(data) };
            const pointer = lfsPointer(data);
            return {
              type: 'file',
              path: p,
              size: data.length,
              oid: gitOid(pointer),
              lfs: { oid: sha256(data), size: data.length, pointerSize: pointer.length },
            };
          });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify(infos));
      }
      if (!api && verb === 'resolve' && (req.method === 'GET' || req.method === 'HEAD')) {
        const file = rest.join('/');
        if (repo.gated && req.headers.authorization !== `Bearer ${token}`)
          return fail(res, 401, 'GatedRepo', `Access to model ${id} is restricted.`);
        const data = files[file];
        if (data === undefined || faults.get(file) === 'missing')
          return fail(res, 404, 'EntryNotFound', `${file} does not exist on "${rev}"`);
        if (!isLfs(file))
          return serveBytes(req, res, data, { 'X-Repo-Commit': commit, ETag: `"${gitOid(data)}"` }, faults.get(file));
        const lfs = {
          'X-Repo-Commit': commit,
          'X-Linked-Etag': `"${sha256(data)}"`,
          'X-Linked-Size': String(data.length),
          ETag: `"${gitOid(lfsPointer(data))}"`,
        };
        res.writeHead(302, { ...lfs, Location: `${cdnUrl}/cdn/${sha256(data)}` });
        return void res.end();
      }
      unrouted.push(`${req.method} ${url.pathname}`);
      fail(res, 404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
    });
  };
  const server = http.createServer(handle);
  const cdn = http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cdnUrl = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
  const hub: StandInHub = {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    stallApi: false,
    unrouted,
    cdnAuthorization,
    token,
    stop: async () => {
      for (const srv of [server, cdn]) {
        srv.closeAllConnections();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
      }
    },
  };
  return hub;
}
