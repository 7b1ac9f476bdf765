/** A small crammedBERT model folder (FFF K=2 D=2, random weights, the crammed tokenizer) for pipeline tests. */
import * as fs from 'node:fs';
import * as path from 'node:path';

const fixtures = path.join(__dirname, '..', 'fixtures');

/**
 * A small crammedBERT model folder that the crammed tokenizer fits (vocab 29530 -> 29568): 2 layers, hidden 16,
 * 2 heads, FFF K=2 D=2, random weights scaled as the fixtures; with an MLM or a classification head.
 */
export function writeCrammedModel(dir: string, head: 'mlm' | 'classification'): void {
  const H = 16;
  const V = 29568;
  const nodes = 2 * 7;
  const headDim = 8;
  let seed = head === 'mlm' ? 7 : 11;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const uniform = (n: number, std: number, mean = 0): Float32Array =>
    Float32Array.from({ length: n }, () => mean + (2 * rand() - 1) * std * Math.sqrt(3));
  const tensors: Array<[string, number[], Float32Array]> = [];
  const add = (name: string, shape: number[], data: Float32Array): void => void tensors.push([name, shape, data]);
  const emb = uniform(V * H, 1);
  add('encoder.embedding.word_embedding.weight', [V, H], emb);
  add('encoder.embedding.pos_embedding.scale_factor', [1], new Float32Array([0.5]));
  add('encoder.embedding.norm.weight', [H], uniform(H, 0.2, 1));
  add('encoder.embedding.norm.bias', [H], uniform(H, 0.2));
  for (let i = 0; i < 2; i++) {
    const p = `encoder.layers.${i}.`;
    for (const n of ['norm1', 'norm2']) {
      add(`${p}${n}.weight`, [H], uniform(H, 0.2, 1));
      add(`${p}${n}.bias`, [H], uniform(H, 0.2));
    }
    add(`${p}attn.self_attention.norm_factor`, [], new Float32Array([1 / Math.sqrt(8)]));
    add(`${p}attn.self_attention.query_key_value.weight`, [3 * H, H], uniform(3 * H * H, 1 / 4));
    add(`${p}attn.dense.weight`, [H, H], uniform(H * H, 1 / 4));
    add(`${p}ffn.linear_in.weight`, [nodes, H], uniform(nodes * H, 1 / 4));
    add(`${p}ffn.linear_in.bias`, [nodes], uniform(nodes, 0.15));
    add(`${p}ffn.linear_out.weight`, [H, nodes], uniform(H * nodes, 1 / Math.sqrt(6)));
  }
  add('encoder.final_norm.weight', [H], uniform(H, 0.2, 1));
  add('encoder.final_norm.bias', [H], uniform(H, 0.2));
  if (head === 'mlm') {
    add('decoder.weight', [V, H], emb);
  } else {
    add('pooler.dense.weight', [headDim, H], uniform(headDim * H, 1 / 4));
    add('pooler.dense.bias', [headDim], uniform(headDim, 0.2));
    add('head.weight', [3, headDim], uniform(3 * headDim, 1 / Math.sqrt(headDim)));
    add('head.bias', [3], uniform(3, 0.2));
  }
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape, data] of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'model.safetensors'),
    Buffer.concat([prefix, json, ...tensors.map(([, , d]) => Buffer.from(d.buffer, d.byteOffset, d.byteLength))]),
  );
  const config = JSON.parse(fs.readFileSync(path.join(fixtures, 'ufb-tiny-k2/config.json'), 'utf8')) as {
    architectures: string[];
    arch: Record<string, unknown> & {
      embedding: Record<string, unknown>;
      attention: { num_attention_heads: number };
      classification_head: { head_dim: number };
    };
  };
  Object.assign(config.arch, {
    hidden_size: H,
    intermed_size: 2,
    intermed_depth: 2,
    num_labels: head === 'mlm' ? null : 3,
  });
  Object.assign(config.arch.embedding, { vocab_size: V, embedding_dim: H, max_seq_length: 24 });
  config.arch.attention.num_attention_heads = 2;
  config.arch.classification_head.head_dim = headDim;
  config.architectures = [head === 'mlm' ? 'ScriptableLMForPreTraining' : 'ScriptableLMForSequenceClassification'];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.copyFileSync(path.join(fixtures, 'crammed-tokenizer/tokenizer.json'), path.join(dir, 'tokenizer.json'));
}
