#!/usr/bin/env python3
"""Cross-check of fffbert's int8 dense Linear against ONNX Runtime's dynamic quantization.

For each shape (M rows, N outputs, K inputs) it draws x, W and b (seeded; normal activations, then the same
with 1% of the input columns scaled 20x, the outlier channels of trained transformers), runs one Linear
y = x W^T + b through fffbert in fp32, int8 and bf16 (bench/native/linear_dump.cpp: the library's linear_create /
linear_forward on this CPU's best instruction set), and through ONNX Runtime: the one-MatMul (+ Add) graph in
fp32, and that graph after onnxruntime.quantization.quantize_dynamic (int8 weights per tensor, its default,
and per channel; uint8 activations quantized per tensor at run time). Every output is compared with the float64
product: relative Frobenius error, largest absolute error, smallest row cosine.

Fails (exit 1) when fffbert's fp32 output is off (> 1e-5 relative: the files were misread) or when its int8
output is less accurate than ORT's per-tensor int8 by more than 10% on any case: both quantize symmetrically
(ORT's activations asymmetrically) to 8 bits, and ours scales per activation row and per weight row, so it
should never be the less accurate one. Exit 3 when onnxruntime (with onnx) is not installed.

  bash scripts/test-native.sh   # builds build/native-tests/libfffbert_core.a
  g++ -O2 -std=c++17 -Inative/include -Inative/src bench/native/linear_dump.cpp \
      build/native-tests/libfffbert_core.a -lpthread -o build/linear_dump
  python3 scripts/ort-int8-check.py --ours build/linear_dump [--shapes 128x768x768,...] [--threads 2]
"""

import argparse
import logging
import os
import subprocess
import sys
import tempfile

import numpy as np


def parse_shapes(text):
    shapes = []
    for part in text.split(","):
        dims = part.lower().split("x")
        if len(dims) != 3 or not all(d.isdigit() and int(d) > 0 for d in dims):
            raise argparse.ArgumentTypeError(f"shape {part!r} is not MxNxK (positive integers)")
        shapes.append(tuple(int(d) for d in dims))
    return shapes


def make_case(rng, m, n, k, outliers):
    x = rng.standard_normal((m, k), dtype=np.float32)
    if outliers:
        cols = rng.choice(k, size=max(1, k // 100), replace=False)
        x[:, cols] *= np.float32(20.0)
    w = rng.standard_normal((n, k), dtype=np.float32) * np.float32(0.05)
    b = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
    return x, w, b


def run_ours(exe, folder, x, w, b, threads):
    paths = {name: os.path.join(folder, name + ".f32") for name in ("x", "w", "b")}
    for name, a in (("x", x), ("w", w), ("b", b)):
        np.ascontiguousarray(a, dtype="<f4").tofile(paths[name])
    m, k = x.shape
    n = w.shape[0]
    prefix = os.path.join(folder, "y")
    cmd = [exe, str(m), str(n), str(k), paths["x"], paths["w"], paths["b"], prefix, str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    kernels = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    outs = {d: np.fromfile(f"{prefix}.{d}.f32", dtype="<f4").reshape(m, n) for d in ("fp32", "int8", "bf16")}
    return outs, kernels


def linear_graph(path, w, b):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n, k = w.shape
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "wt"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", n])],
        [numpy_helper.from_array(np.ascontiguousarray(w.T), "wt"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def run_ort(path, x, threads):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def errors(y, ref):
    y = y.astype(np.float64)
    rel = np.linalg.norm(y - ref) / np.linalg.norm(ref)
    cos = np.sum(y * ref, axis=1) / (np.linalg.norm(y, axis=1) * np.linalg.norm(ref, axis=1))
    return rel, float(np.max(np.abs(y - ref))), float(np.min(cos))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ours", default="build/linear_dump", help="the linear_dump binary (default build/linear_dump)")
    ap.add_argument("--shapes", type=parse_shapes, default=parse_shapes("16x768x768,128x2304x768,128x768x3072"),
                    help="MxNxK list (default 16x768x768,128x2304x768,128x768x3072: BERT's QKV and FF widths)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not os.access(args.ours, os.X_OK):
        sys.exit(f"{args.ours} is not an executable: build it (see the header of {sys.argv[0]})")
    try:
        import onnx  # noqa: F401
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        print(f"onnxruntime and onnx are needed for the comparison ({e}); pip install onnxruntime onnx", file=sys.stderr)
        sys.exit(3)

    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's advice to pre-process a one-node graph
    print(f"onnxruntime {onnxruntime.__version__}, {args.threads} threads, seed {args.seed}")
    rng = np.random.default_rng(args.seed)
    failures = []
    with tempfile.TemporaryDirectory(prefix="ort-int8-check-") as folder:
        for m, n, k in args.shapes:
            for outliers in (False, True):
                x, w, b = make_case(rng, m, n, k, outliers)
                ref = x.astype(np.float64) @ w.T.astype(np.float64) + b
                ours, kernels = run_ours(args.ours, folder, x, w, b, args.threads)
                fp32_path = os.path.join(folder, "linear.onnx")
                linear_graph(fp32_path, w, b)
                rows = [
                    (f"fffbert fp32 ({kernels['fp32']})", ours["fp32"]),
                    ("ORT fp32", run_ort(fp32_path, x, args.threads)),
                    (f"fffbert int8 ({kernels['int8']})", ours["int8"]),
                ]
                for per_channel in (False, True):
                    q_path = os.path.join(folder, f"linear-int8-{int(per_channel)}.onnx")
                    quantize_dynamic(fp32_path, q_path, weight_type=QuantType.QInt8, per_channel=per_channel)
                    label = "per-channel" if per_channel else "per-tensor"
                    rows.append((f"ORT int8 dynamic, {label}", run_ort(q_path, x, args.threads)))
                rows.append((f"fffbert bf16 ({kernels['bf16']})", ours["bf16"]))
                what = "1% of input columns x20" if outliers else "normal activations"
                print(f"\n{m}x{n}x{k} (M x N x K), {what}")
                print(f"  {'engine':<34} {'rel. error':>10} {'max abs':>10} {'min row cos':>12}")
                err = {}
                for name, y in rows:
                    err[name] = errors(y, ref)
                    rel, mx, cos = err[name]
                    print(f"  {name:<34} {rel:10.2e} {mx:10.2e} {cos:12.7f}")
                ours_fp32 = err[rows[0][0]][0]
                ours_int8 = err[rows[2][0]][0]
                ort_int8 = err["ORT int8 dynamic, per-tensor"][0]
                diff = np.linalg.norm(ours["int8"].astype(np.float64) - rows[3][1]) / np.linalg.norm(ref)
                print(f"  fffbert int8 against ORT int8 per-tensor: {diff:.2e} relative; error ratio "
                      f"{ours_int8 / ort_int8:.2f}")
                if ours_fp32 > 1e-5:
                    failures.append(f"{m}x{n}x{k} {what}: fffbert fp32 error {ours_fp32:.2e} (inputs misread?)")
                if ours_int8 > 1.1 * ort_int8:
                    failures.append(f"{m}x{n}x{k} {what}: fffbert int8 error {ours_int8:.2e} > 1.1 x ORT's "
                                    f"{ort_int8:.2e}")
    for f in failures:
        print("FAIL " + f)
    print(f"\n{'FAILED' if failures else 'ok'}: {len(args.shapes) * 2} cases, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
