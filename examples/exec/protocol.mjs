// The subprocess protocol of adagrad-conformance, in plain JavaScript (Node.js >= 18).
//
// Why a module of its own: a conformant and a deliberately wrong Adagrad share everything but
// their arithmetic, so each example is a few lines on top of this one. See docs/protocols.md.
//
// serve(adagrad) reads one JSON request per line on stdin and writes one JSON answer per line
// on stdout. adagrad = { name, features, update(p, g, s, t, h) -> [p, s] } works element-wise
// in float64; serve rounds every stored result to the parameter's dtype.

import { createInterface } from "node:readline";

// The decoder is shared with the golden-fixture reader: one copy of the encoding's rules.
import { decodeArray, halfToNumber } from "../../fixtures/readers/hexarray.mjs";

const view = new DataView(new ArrayBuffer(8));

const roundEven = (x) => { // to nearest integer, ties to even (Math.round rounds ties up)
  const f = Math.floor(x), d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
};

// float16 bits of a float64 value, rounded to nearest, ties to even (Node 20 has no
// Math.f16round). Scaling by powers of two is exact, so only roundEven rounds: once.
function toHalfBits(x) {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign | roundEven(a * 2 ** 24); // subnormal; 0x400 is the smallest normal
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1; // log2 may be off by one next to a power of two
  if (2 ** (e + 1) <= a) e += 1;
  let frac = roundEven((a / 2 ** e - 1) * 1024);
  if (frac === 1024) { e += 1; frac = 0; }
  if (e > 15) return sign | 0x7c00; // overflow to infinity
  return sign | ((e + 15) << 10) | frac;
}

function toBf16Bits(x) {
  view.setFloat32(0, x);
  const f = view.getUint32(0);
  if (Number.isNaN(x)) return ((f >>> 16) | 0x40) & 0xffff;
  return ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A float64 value rounded to dtype (to nearest, ties to even). */
export function roundTo(x, dtype) {
  switch (dtype) {
    case "float64": return x;
    case "float32": return Math.fround(x);
    case "float16": return halfToNumber(toHalfBits(x));
    case "bfloat16": view.setUint32(0, toBf16Bits(x) << 16 >>> 0); return view.getFloat32(0);
    default: throw new Error(`unsupported dtype ${dtype}`);
  }
}

function encodeElement(x, dtype) {
  switch (dtype) {
    case "float64": view.setFloat64(0, x); return view.getBigUint64(0).toString(16).padStart(16, "0");
    case "float32": view.setFloat32(0, x); return view.getUint32(0).toString(16).padStart(8, "0");
    case "bfloat16": return toBf16Bits(x).toString(16).padStart(4, "0");
    case "float16": return toHalfBits(x).toString(16).padStart(4, "0");
    default: throw new Error(`unsupported dtype ${dtype}`);
  }
}

/** {dtype, shape, hex} -> {dtype, shape, data: Float64Array} (fixtures/readers/hexarray.mjs). */
export const decode = decodeArray;

/** {dtype, shape, data} -> {dtype, shape, hex}; data must already be rounded to dtype. */
export function encode(arr) {
  return { dtype: arr.dtype, shape: arr.shape, hex: Array.from(arr.data, (x) => encodeElement(x, arr.dtype)).join(" ") };
}

function handle(adagrad, req) {
  switch (req.op) {
    case "hello":
      return { name: adagrad.name, features: adagrad.features };
    case "init": {
      const h = req.hyperparameters;
      const sums = req.params.map((p) => {
        const a = decode(p);
        return encode({ ...a, data: a.data.map(() => roundTo(h.initial_accumulator_value, a.dtype)) });
      });
      return { state: { sums, steps: req.params.map(() => 0), hyperparameters: h } };
    }
    case "set_hyperparameters":
      return { state: { ...req.state, hyperparameters: req.hyperparameters } };
    case "step": {
      const h = req.state.hyperparameters;
      const params = [], sums = [], steps = [];
      req.params.forEach((pObj, i) => {
        const p = decode(pObj), s = decode(req.state.sums[i]);
        let t = req.state.steps[i];
        if (req.grads[i] !== null) { // no gradient: param, sum and step unchanged (R15)
          const g = decode(req.grads[i]);
          t += 1;
          for (let j = 0; j < p.data.length; j++) {
            const [pj, sj] = adagrad.update(p.data[j], g.data[j], s.data[j], t, h);
            s.data[j] = roundTo(sj, p.dtype);
            p.data[j] = roundTo(pj(s.data[j]), p.dtype);
          }
        }
        params.push(encode(p)); sums.push(encode(s)); steps.push(t);
      });
      return { params, state: { ...req.state, sums, steps } };
    }
    default:
      return { error: `unknown op ${req.op}` };
  }
}

/**
 * Answer requests on stdin until it closes.
 *
 * options.delaySeconds: wait this long before each answer (examples/exec/slow.mjs);
 * options.before(request): called first with each request; an object it returns is the answer
 * (the hostile examples use it), undefined lets adagrad answer.
 */
export function serve(adagrad, { delaySeconds = 0, before = () => undefined } = {}) {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on("line", (line) => {
    let answer;
    try {
      const req = JSON.parse(line);
      answer = before(req) ?? handle(adagrad, req);
    } catch (err) {
      answer = { error: String(err && err.message ? err.message : err) };
    }
    const text = JSON.stringify(answer) + "\n";
    if (delaySeconds > 0) setTimeout(() => process.stdout.write(text), delaySeconds * 1000);
    else process.stdout.write(text);
  });
}
