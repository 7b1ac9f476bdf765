// A tiny protobuf writer and just enough of ONNX (onnx/onnx.proto3 field numbers) to build the dense
// baseline graphs the benchmarks hand to onnxruntime-node. No dependency: the messages are written directly.
//
//   ModelProto     ir_version=1 producer_name=2 graph=7 opset_import=8
//   OperatorSetId  domain=1 version=2
//   GraphProto     node=1 name=2 initializer=5 input=11 output=12
//   NodeProto      input=1 output=2 name=3 op_type=4 attribute=5 domain=7
//   AttributeProto name=1 f=2 i=3 s=4 floats=7 ints=8 type=20 (FLOAT=1 INT=2 STRING=3 FLOATS=6 INTS=7)
//   TensorProto    dims=1 data_type=2 name=8 raw_data=9 (little-endian)
//   ValueInfoProto name=1 type=2; TypeProto tensor_type=1; Tensor elem_type=1 shape=2; Shape dim=1;
//   Dimension      dim_value=1 dim_param=2

export const DType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 };

/** A protobuf message under construction: a list of byte chunks (large tensors are not copied). */
class Msg {
  constructor() {
    this.chunks = [];
    this.length = 0;
    this.scratch = [];
  }
  #flush() {
    if (this.scratch.length === 0) return;
    const b = Uint8Array.from(this.scratch);
    this.chunks.push(b);
    this.length += b.length;
    this.scratch = [];
  }
  #varint(v) {
    // v: a non-negative safe integer, or a BigInt (negative int64 values as two's complement).
    let b = typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt(v);
    while (b >= 0x80n) {
      this.scratch.push(Number(b & 0x7fn) | 0x80);
      b >>= 7n;
    }
    this.scratch.push(Number(b));
  }
  #tag(field, wire) {
    this.#varint((field << 3) | wire);
  }
  int(field, v) {
    this.#tag(field, 0);
    this.#varint(BigInt(v));
    return this;
  }
  float(field, v) {
    this.#tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
    return this;
  }
  bytes(field, u8) {
    this.#tag(field, 2);
    this.#varint(u8.length);
    this.#flush();
    this.chunks.push(u8);
    this.length += u8.length;
    return this;
  }
  string(field, s) {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field, m) {
    m.#flush();
    this.#tag(field, 2);
    this.#varint(m.length);
    this.#flush();
    this.chunks.push(...m.chunks);
    this.length += m.length;
    return this;
  }
  finish() {
    this.#flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function tensorProto(name, data, dims) {
  const t = new Msg();
  for (const d of dims) t.int(1, d);
  let type;
  if (data instanceof Float32Array) type = DType.FLOAT;
  else if (data instanceof BigInt64Array) type = DType.INT64;
  else if (data instanceof Int32Array) type = DType.INT32;
  else if (data instanceof Int8Array) type = DType.INT8;
  else if (data instanceof Uint8Array) type = DType.UINT8;
  else throw new Error(`tensor ${name}: unsupported array type`);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  t.int(2, type)
    .string(8, name)
    .bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return t;
}

function valueInfo(name, elemType, dims) {
  const shape = new Msg();
  for (const d of dims) shape.msg(1, typeof d === 'string' ? new Msg().string(2, d) : new Msg().int(1, d));
  const tensor = new Msg().int(1, elemType).msg(2, shape);
  return new Msg().string(1, name).msg(2, new Msg().msg(1, tensor));
}

function attribute(name, v) {
  const a = new Msg().string(1, name);
  if (typeof v === 'number' && Number.isInteger(v) && !Object.is(v, -0)) return a.int(3, v).int(20, 2);
  if (typeof v === 'number') return a.float(2, v).int(20, 1);
  if (typeof v === 'object' && v !== null && 'float' in v) return a.float(2, v.float).int(20, 1);
  if (typeof v === 'string') return a.string(4, v).int(20, 3);
  if (Array.isArray(v)) {
    for (const x of v) a.int(8, x);
    return a.int(20, 7);
  }
  throw new Error(`attribute ${name}: unsupported value ${v}`);
}

/** Builds one ONNX graph: nodes in topological order, initializers, typed inputs and outputs. */
export class Graph {
  constructor(name) {
    this.name = name;
    this.nodes = [];
    this.inits = [];
    this.inputs = [];
    this.outputs = [];
    this.counter = 0;
    this.consts = new Map();
  }
  input(name, elemType, dims) {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }
  output(name, elemType, dims) {
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }
  /** A named initializer (weights): Float32Array / BigInt64Array / Int32Array / Int8Array / Uint8Array with its dims. */
  init(name, data, dims) {
    this.inits.push(tensorProto(name, data, dims));
    return name;
  }
  /** A small constant, shared by value. */
  const(data, dims) {
    const key = `${data.constructor.name}:${dims}:${Array.from(data)}`;
    if (!this.consts.has(key)) this.consts.set(key, this.init(`const_${this.consts.size}`, data, dims));
    return this.consts.get(key);
  }
  scalar(v) {
    return this.const(Float32Array.of(v), []);
  }
  ints(values) {
    return this.const(BigInt64Array.from(values.map(BigInt)), [values.length]);
  }
  /**
   * Adds a node; returns its output name (or names when `outputs` > 1).
   * @param {string} opType
   * @param {any[]} inputs
   * @param {{ attrs?: object, outputs?: number, domain?: string, name?: string }} [options]
   */
  node(opType, inputs, { attrs = {}, outputs = 1, domain = '', name } = {}) {
    const outs = Array.from({ length: outputs }, () => `${opType.toLowerCase()}_${this.counter++}`);
    if (name !== undefined && outputs === 1) outs[0] = name;
    const n = new Msg();
    for (const i of inputs) n.string(1, i);
    for (const o of outs) n.string(2, o);
    n.string(3, `${opType}_${this.nodes.length}`).string(4, opType);
    for (const [k, v] of Object.entries(attrs)) n.msg(5, attribute(k, v));
    if (domain) n.string(7, domain);
    this.nodes.push(n);
    return outputs === 1 ? outs[0] : outs;
  }
  /** The serialised ModelProto. */
  toModel({ opset = 17, irVersion = 8, extraOpsets = [] } = {}) {
    const g = new Msg();
    for (const n of this.nodes) g.msg(1, n);
    g.string(2, this.name);
    for (const t of this.inits) g.msg(5, t);
    for (const i of this.inputs) g.msg(11, i);
    for (const o of this.outputs) g.msg(12, o);
    const m = new Msg().int(1, irVersion).string(2, 'fffbert-bench');
    m.msg(7, g);
    m.msg(8, new Msg().string(1, '').int(2, opset));
    for (const [domain, version] of extraOpsets) m.msg(8, new Msg().string(1, domain).int(2, version));
    return m.finish();
  }
}

/** GELU(erf) written out as PyTorch exports it: x * 0.5 * (1 + erf(x / sqrt 2)); ORT fuses it into Gelu. */
export function gelu(g, x) {
  const e = g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2)])]);
  return g.node('Mul', [g.node('Mul', [x, g.node('Add', [e, g.scalar(1)])]), g.scalar(0.5)]);
}

/** y = x W^T + b with W in PyTorch layout [out, in], stored transposed ([in, out]) for MatMul. */
export function linear(g, x, name, weightT, inF, outF, bias) {
  let y = g.node('MatMul', [x, g.init(`${name}.weight_t`, weightT, [inF, outF])]);
  if (bias) y = g.node('Add', [y, g.init(`${name}.bias`, bias, [outF])]);
  return y;
}

/**
 * Symmetric int8 quantization of a MatMul weight B [inF, outF] as onnxruntime.quantization.quantize_dynamic
 * writes it (weight_type QInt8, symmetric: range [-127, 127], zero point 0, scale = max|w| / 127):
 * per tensor (its default) or per output column (per_channel=True). Returns { q, scale, zeroPoint } with
 * scale and zeroPoint of length 1 or outF.
 */
export function quantizeWeightInt8(weightT, inF, outF, perChannel) {
  const groups = perChannel ? outF : 1;
  const absmax = new Float32Array(groups);
  for (let k = 0; k < inF; k++) {
    for (let n = 0; n < outF; n++) {
      const g = perChannel ? n : 0;
      const a = Math.abs(weightT[k * outF + n]);
      if (a > absmax[g]) absmax[g] = a;
    }
  }
  const scale = Float32Array.from(absmax, (a) => (a > 0 ? a / 127 : 1));
  const q = new Int8Array(inF * outF);
  for (let k = 0; k < inF; k++) {
    for (let n = 0; n < outF; n++) {
      const v = Math.round(weightT[k * outF + n] / scale[perChannel ? n : 0]); // |v| <= 127 by construction
      q[k * outF + n] = Math.max(-127, Math.min(127, v));
    }
  }
  return { q, scale, zeroPoint: new Int8Array(groups) };
}

/**
 * y = x W^T + b in ORT's dynamic int8 form, node for node what quantize_dynamic writes for a MatMul with a
 * constant B: DynamicQuantizeLinear(x) -> (x_q uint8, x_scale, x_zp) per tensor at run time;
 * MatMulInteger(x_q, W_q int8, x_zp, W_zp) -> int32; Cast to float; Mul by (x_scale * W_scale); the bias Add
 * stays fp32. ORT's optimizer fuses the chain into DynamicQuantizeMatMul (MLAS's int8 GEMM, VNNI/AMX where the
 * CPU has them). quant: 'per-tensor' (quantize_dynamic's default) or 'per-channel' (per output column).
 */
export function linearInt8(g, x, name, weightT, inF, outF, bias, quant = 'per-tensor') {
  const perChannel = quant === 'per-channel';
  const { q, scale, zeroPoint } = quantizeWeightInt8(weightT, inF, outF, perChannel);
  const dims = perChannel ? [outF] : [];
  const wq = g.init(`${name}.weight_t_quantized`, q, [inF, outF]);
  const ws = g.init(`${name}.weight_t_scale`, scale, dims);
  const wzp = g.init(`${name}.weight_t_zero_point`, zeroPoint, dims);
  const [xq, xs, xzp] = g.node('DynamicQuantizeLinear', [x], { outputs: 3 });
  const acc = g.node('MatMulInteger', [xq, wq, xzp, wzp]);
  const scales = g.node('Mul', [xs, ws]);
  let y = g.node('Mul', [g.node('Cast', [acc], { attrs: { to: DType.FLOAT } }), scales]);
  if (bias) y = g.node('Add', [y, g.init(`${name}.bias`, bias, [outF])]);
  return y;
}
