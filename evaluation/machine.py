"""The machine a benchmark runs on: description, timers, and the baselines measured in the same run
(dense matrix-multiply FLOP/s and memory bandwidth) with an estimate of the physical peak."""

import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Dense bf16 tensor-core peaks (TFLOP/s) of common accelerators, from the vendors' data sheets.
GPU_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0, "T4": 65.0}


def _cpuinfo() -> dict[str, str]:
    path = Path("/proc/cpuinfo")
    info: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if ":" in line:
                key, value = (s.strip() for s in line.split(":", 1))
                info.setdefault(key, value)
    return info


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_peak_gflops(cores: int) -> tuple[float | None, str]:
    """Estimated fp32 peak: cores x clock x FLOPs per cycle (2 FMA units x SIMD lanes x 2)."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    mhz = float(info.get("cpu MHz", "0") or 0)
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags and "fma" in flags else 4
    if mhz <= 0:
        return None, "clock unknown"
    per_cycle = 2 * lanes * 2
    return (
        cores * mhz / 1000 * per_cycle,
        f"{cores} cores x {mhz / 1000:.2f} GHz x {per_cycle} FLOP/cycle ({lanes}-lane FMA x 2 units)",
    )


def describe(device: torch.device) -> dict[str, Any]:
    """CPU model, cores, memory, torch version and accelerator of this machine."""
    info = _cpuinfo()
    mem_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        m = re.search(r"MemTotal:\s+(\d+)", meminfo.read_text())
        mem_kb = int(m.group(1)) if m else 0
    out: dict[str, Any] = {
        "cpu": info.get("model name", platform.processor() or "unknown"),
        "cores_usable": usable_cores(),
        "cores_total": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": str(device),
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out |= {"gpu": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda}
    return out


def time_call(
    fn: Callable[[], Any], device: torch.device, warmup: int = 1, min_seconds: float = 1.0, max_iters: int = 50
) -> tuple[float, int]:
    """Mean seconds per call after `warmup` calls, over at least `min_seconds` (CUDA: timed with events)."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        iters, t0 = 0, time.perf_counter()
        while iters < max_iters and (iters < 3 or time.perf_counter() - t0 < min_seconds):
            fn()
            iters += 1
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1000 / iters, iters
    iters, t0 = 0, time.perf_counter()
    while iters < max_iters and (iters < 2 or time.perf_counter() - t0 < min_seconds):
        fn()
        iters += 1
    return (time.perf_counter() - t0) / iters, iters


def gemm_gflops(device: torch.device, n: int = 2048, min_seconds: float = 1.0) -> dict[str, Any]:
    """Achieved FLOP/s of an n x n x n matrix multiply (fp32 on CPU, bf16 on CUDA): the attainable ceiling."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds, iters = time_call(lambda: a @ b, device, min_seconds=min_seconds)
    return {"n": n, "dtype": str(dtype).removeprefix("torch."), "gflops": 2 * n**3 / seconds / 1e9, "iters": iters}


def memory_bandwidth_gbs(megabytes: int = 256, repeats: int = 3) -> float:
    """Achieved host memory bandwidth of a large array copy (read + write bytes / second)."""
    a = np.ones(megabytes * 2**20 // 8, dtype=np.float64)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best / 1e9


def baselines(device: torch.device, smoke: bool = False) -> dict[str, Any]:
    """The same-run reference numbers every ratio in the benchmark report is taken against."""
    cores = usable_cores()
    peak, how = cpu_peak_gflops(cores)
    out: dict[str, Any] = {
        "gemm": gemm_gflops(device, 512 if smoke else 2048, 0.2 if smoke else 1.0),
        "memory_bandwidth_gbs": memory_bandwidth_gbs(32 if smoke else 512),
        "cpu_peak_gflops_estimate": peak,
        "cpu_peak_how": how,
    }
    if device.type == "cuda":
        name = torch.cuda.get_device_properties(device).name
        out["gpu_peak_tflops_bf16"] = next((v for k, v in GPU_PEAK_TFLOPS.items() if k in name), None)
    return out
