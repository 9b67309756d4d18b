"""The encoder loading shared by intents/ and retrieval/ lives in one neutral module, and
serving a stored adapter never imports the trainer."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
import bot.retrieval.index
retriever = sorted(sys.modules)
import bot.intents.store, bot.intents.classifier
print(json.dumps([retriever, sorted(sys.modules)]))
"""


def test_serving_imports_neither_the_trainer_nor_the_other_models_package() -> None:
    output = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    retriever, serving = (set(names) for names in json.loads(output))
    assert "bot.encoder" in retriever
    assert not any(name.startswith("bot.intents") for name in retriever)
    assert "bot.intents.classifier" in serving and "bot.intents.train" not in serving
