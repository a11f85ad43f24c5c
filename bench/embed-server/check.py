#!/usr/bin/env python3
"""Checks server.py against all-MiniLM-L6-v2's known behaviour, then its HTTP API, then
times it on SciFact abstracts. Usage: check.py [--bench N] [--corpus FILE]"""
import argparse, base64, json, os, sys, tempfile, threading, time, urllib.error, urllib.request
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server  # noqa: E402  (first: it sets the BLAS thread count before numpy loads)
import numpy as np  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bench", type=int, default=200, help="SciFact abstracts to time (0: skip)")
ap.add_argument("--corpus", default="/work/shared/data/beir-scifact/corpus.jsonl")
args = ap.parse_args()

m = server.MiniLM()
food, bread, drums = "A man is eating food.", "A man is eating a piece of bread.", "A monkey is playing drums."
v, ntok = m.embed([food, bread, drums, "hello world"])
assert v.shape == (4, 384) and v.dtype == np.float32, v.shape
assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
cos = {"food~bread": v[0] @ v[1], "food~drums": v[0] @ v[2], "bread~drums": v[1] @ v[2]}
print("cosines:", ", ".join(f"{k} {c:.4f}" for k, c in cos.items()))
assert 0.7 <= cos["food~bread"] <= 0.8 and cos["food~drums"] < 0.2 and cos["bread~drums"] < 0.2
# reference output of all-MiniLM-L6-v2 for "hello world" (first five dims; fastembed's tests use it)
ref = np.array([-0.034477, 0.031023, 0.006735, 0.026109, -0.039362])
print("hello world[:5]:", np.round(v[3, :5], 6), "max |diff| vs reference:", f"{np.abs(v[3, :5] - ref).max():.1e}")
assert np.allclose(v[3, :5], ref, atol=1e-4)
# padding must not change a vector: alone vs in a batch with a long text
alone = m.embed([food])[0][0]
mixed = m.embed([food, "word " * 400])[0]
assert np.abs(alone - mixed[0]).max() < 1e-5 and mixed.shape == (2, 384)

# HTTP API, on a free port, with a throw-away cache
tmp = tempfile.mkdtemp()
cache = server.Cache(os.path.join(tmp, "cache.sqlite"))
httpd = ThreadingHTTPServer(("127.0.0.1", 0), server.make_handler(m, cache, threading.Lock(), False))
threading.Thread(target=httpd.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{httpd.server_port}"


def call(path, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


st, r = call("/v1/embeddings", {"model": "m", "input": [food, bread]})
assert st == 200 and r["object"] == "list" and [d["index"] for d in r["data"]] == [0, 1], r
assert np.allclose(r["data"][1]["embedding"], v[1], atol=1e-6) and r["usage"]["prompt_tokens"] > 0
st, r2 = call("/v1/embeddings", {"model": "m", "input": bread, "encoding_format": "base64"})
assert np.allclose(np.frombuffer(base64.b64decode(r2["data"][0]["embedding"]), np.float32), v[1], atol=1e-6)
assert len(cache.get([server.hashlib.sha256(bread.encode()).hexdigest()])) == 1
assert call("/v1/models")[1]["data"][0]["id"] == server.MODEL_ID
for bad in ({"model": "m"}, {"model": "m", "input": []}, {"model": "m", "input": [[1, 2]]}, b"{nope"):
    st, r = call("/v1/embeddings", bad)
    assert st == 400 and set(r["error"]) >= {"message", "type", "code"}, (bad, st, r)
print("HTTP API: ok")

if args.bench:
    docs = []
    with open(args.corpus) as f:
        for line in f:
            d = json.loads(line)
            docs.append(d["title"] + ". " + d["text"])
            if len(docs) == args.bench:
                break
    t = time.perf_counter()
    _, ntok = m.embed(docs)
    dt = time.perf_counter() - t
    print(f"model: {len(docs)} texts ({ntok} tokens) in {dt:.2f} s = {len(docs) / dt:.1f} texts/s")
    t = time.perf_counter()
    for i in range(0, len(docs), 32):
        assert call("/v1/embeddings", {"model": "m", "input": docs[i:i + 32]})[0] == 200
    dt = time.perf_counter() - t
    print(f"HTTP, 32 per request, cold cache: {len(docs) / dt:.1f} texts/s")
    t = time.perf_counter()
    for i in range(0, len(docs), 32):
        call("/v1/embeddings", {"model": "m", "input": docs[i:i + 32]})
    print(f"HTTP, 32 per request, warm cache: {len(docs) / (time.perf_counter() - t):.1f} texts/s")
httpd.shutdown()
print("all checks passed")
