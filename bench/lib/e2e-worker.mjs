// End-to-end jobs (loaded by worker.mjs): our engine (createEncoder over random weights) and onnxruntime-node
// (the same architecture as an ONNX graph, dense feedforward), one configuration per process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crammedConfig, crammedInputs, randomTensorSource } from './crammed.mjs';
import { crammedEncoderModel } from './graphs.mjs';
import { loadOrt, ortSession } from './ort.mjs';
import { loadFffbert } from './setup.mjs';
import { measure } from './timing.mjs';

const DENSE_NAMES = { ffIn: 'dense_in', ffOut: 'dense_out' };

function ourEncoder(cfg, threads, dtype = 'fp32') {
  const f = loadFffbert();
  f.setThreads(threads);
  const t0 = performance.now();
  const enc = f.createEncoder(cfg, randomTensorSource(cfg), { dtype });
  return { f, enc, buildMs: performance.now() - t0 };
}

/**
 * @param {any} cfg
 * @param {number} threads
 * @param {number} batch
 * @param {number} seq
 * @param {{ int8?: any, sessionOptions?: object }} [options]
 */
async function ortEncoder(cfg, threads, batch, seq, { int8 = null, sessionOptions } = {}) {
  const ort = loadOrt();
  const src = randomTensorSource(cfg).readF32;
  const t0 = performance.now();
  const session = await ortSession(
    ort,
    crammedEncoderModel(cfg, src, batch, seq, DENSE_NAMES, { int8 }),
    threads,
    sessionOptions,
  );
  return { ort, session, buildMs: performance.now() - t0 };
}

function ortFeeds(ort, inputs) {
  const { batch, seq } = inputs;
  return {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(inputs.inputIds, BigInt), [batch, seq]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(inputs.attentionMask, BigInt), [batch, seq]),
  };
}

const modelConfig = ({ ffn, width, tiny }) =>
  tiny
    ? crammedConfig({ ffn, width, hidden: 64, layers: 2, heads: 4, vocab: 500, depth: 3 })
    : crammedConfig({ ffn, width });

export const jobs = {
  /** Our engine: { ffn: 'fff' | 'dense', width, dtype: 'fp32' | 'int8' | 'bf16', batch, seq, profile }. */
  async 'e2e-ours'(job) {
    const cfg = modelConfig(job);
    const { f, enc, buildMs } = ourEncoder(cfg, job.threads, job.dtype);
    const inputs = crammedInputs(cfg, job.batch, job.seq);
    const timing = { reps: job.reps ?? 5, minRepMs: job.minRepMs ?? 40, warmupMs: job.warmupMs ?? 300 };
    let profile = null;
    const first = enc.forwardSync(inputs).lastHiddenState;
    const finite = first.every(Number.isFinite);
    enc.resetProfile();
    const r = await measure(() => enc.forwardSync(inputs), timing);
    if (job.profile) profile = enc.profile();
    return {
      ...r,
      info: {
        isa: f.isa().active,
        isaReport: f.isa(),
        dtype: enc.dtype,
        threads: f.threads(),
        buildMs,
        weightBytes: enc.weightBytes,
        finite,
      },
      profile,
    };
  },
  /** onnxruntime-node on the dense model: { width, int8: null | 'per-tensor' | 'per-channel', batch, seq }. */
  async 'e2e-ort'(job) {
    const cfg = modelConfig({ ...job, ffn: 'dense' });
    const { ort, session, buildMs } = await ortEncoder(cfg, job.threads, job.batch, job.seq, { int8: job.int8 });
    const feeds = ortFeeds(ort, crammedInputs(cfg, job.batch, job.seq));
    const timing = { reps: job.reps ?? 5, minRepMs: job.minRepMs ?? 40, warmupMs: job.warmupMs ?? 300 };
    const first = (await session.run(feeds)).last_hidden_state.data;
    const finite = first.every(Number.isFinite);
    const r = await measure(() => session.run(feeds), timing);
    return { ...r, info: { threads: job.threads, version: ort.env.versions?.node, buildMs, finite } };
  },
  /**
   * The ONNX graph and our dense engine on the same small model and weights, with padding: the largest
   * difference of last_hidden_state (a check that both run the same architecture).
   */
  async 'e2e-check'(job) {
    const cfg = modelConfig({ ffn: 'dense', width: job.width ?? 128, tiny: job.tiny ?? true });
    const inputs = crammedInputs(cfg, job.batch ?? 2, job.seq ?? 16, { padding: 5 });
    const res = {};
    let ours = null;
    let theirs = null;
    try {
      ours = ourEncoder(cfg, job.threads).enc.forwardSync(inputs).lastHiddenState;
    } catch (e) {
      res.oursError = e.message.split('\n')[0];
    }
    try {
      const { ort, session } = await ortEncoder(cfg, job.threads, inputs.batch, inputs.seq);
      theirs = (await session.run(ortFeeds(ort, inputs))).last_hidden_state.data;
      res.ortFinite = theirs.every(Number.isFinite);
    } catch (e) {
      res.ortError = e.message.split('\n')[0];
    }
    if (ours && theirs) {
      let d = 0;
      for (let i = 0; i < ours.length; i++) d = Math.max(d, Math.abs(ours[i] - theirs[i]));
      res.maxAbsDiff = d;
      res.config = {
        hidden: cfg.hiddenSize,
        layers: cfg.numLayers,
        heads: cfg.numHeads,
        ff: cfg.ffn.intermediateSize,
        batch: inputs.batch,
        seq: inputs.seq,
        padding: 5,
      };
    }
    if (theirs && job.int8) Object.assign(res, await checkOrtInt8(cfg, inputs, theirs, job));
    return res;
  },
};

/** Cosine similarity of a and b over [offset, offset + n). */
function cosine(a, b, offset = 0, n = a.length) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = offset; i < offset + n; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * The int8 graph against the fp32 graph (`fp32`, ORT's output) on the same model and padded inputs: cosine of
 * the whole output and the smallest per-token cosine over attended tokens; and, from ORT's profile of one run,
 * the operators that ran, so the notes can say whether the DynamicQuantizeLinear + MatMulInteger chains fused.
 */
async function checkOrtInt8(cfg, inputs, fp32, job) {
  const res = { int8: job.int8 };
  const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-ort-')), 'profile');
  try {
    const { ort, session } = await ortEncoder(cfg, job.threads, inputs.batch, inputs.seq, {
      int8: job.int8,
      sessionOptions: { enableProfiling: true, profileFilePrefix: prefix },
    });
    const q = (await session.run(ortFeeds(ort, inputs))).last_hidden_state.data;
    const profileFile = session.endProfiling();
    const H = cfg.hiddenSize;
    res.int8Cosine = cosine(q, fp32);
    res.int8MinTokenCosine = Infinity;
    for (let t = 0; t < inputs.batch * inputs.seq; t++) {
      if (inputs.attentionMask[t] === 1)
        res.int8MinTokenCosine = Math.min(res.int8MinTokenCosine, cosine(q, fp32, t * H, H));
    }
    // endProfiling() returns the file name (relative or absolute depending on the version): take the folder's only file.
    const file = path.join(path.dirname(prefix), fs.readdirSync(path.dirname(prefix))[0] ?? String(profileFile));
    const ops = {};
    for (const e of JSON.parse(fs.readFileSync(file, 'utf8'))) {
      if (e.cat === 'Node' && e.args?.op_name && e.name.endsWith('_kernel_time'))
        ops[e.args.op_name] = (ops[e.args.op_name] ?? 0) + 1;
    }
    res.int8Ops = ops;
  } catch (e) {
    res.int8Error = e.message.split('\n')[0];
  } finally {
    fs.rmSync(path.dirname(prefix), { recursive: true, force: true });
  }
  return res;
}
