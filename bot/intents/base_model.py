"""Devices and threads for the models; where the encoder comes from is ``bot.encoder``."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from bot.encoder import resolve_model_path as resolve_model_path  # its old home


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} was requested but CUDA is not available")
    return torch.device(requested)


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX).

    Without them bf16 autocast is emulated and slower than fp32, so it stays off.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def configure_cpu_threads() -> None:
    threads = os.environ.get("BOT_TORCH_THREADS")
    torch.set_num_threads(int(threads) if threads else max(1, os.cpu_count() or 1))


def serving_thread_count(requested: int | None = None) -> int:
    """Torch threads for a server: ``requested``, else ``BOT_TORCH_THREADS``, else one fewer
    than the cores (at least one).

    The event loop, the database and the sockets need a core too. A model thread that has to
    share its core with them stalls every parallel operation until it is scheduled again:
    measured on 2 busy cores, one message took 640 ms with 2 threads and 57 ms with 1.
    """
    from_environment = os.environ.get("BOT_TORCH_THREADS")
    return requested or (int(from_environment) if from_environment else max(1, (os.cpu_count() or 1) - 1))


def configure_serving_threads(requested: int | None = None) -> int:
    """Set torch's thread count to :func:`serving_thread_count` and return it."""
    threads = serving_thread_count(requested)
    torch.set_num_threads(threads)
    return threads
