"""/retrieve at catalogue scale, the starting code (A: a checkout of another commit, by default 3194227, the code
before the query-path work of issue 18) against this checkout (B), on the same simulated catalogues, interleaved
request by request. One command:

    python scripts/scale_ab.py                  # 10k and 100k stems, 30 s and 3-minute mixes, 16 clients at 10k
    python scripts/scale_ab.py --quick          # 10k and 100k, 30 s mix only, fewer requests (a few minutes)
    python scripts/scale_ab.py --base /work/base --root /tmp/scale-ab --out ab.json
    python scripts/scale_ab.py --quick --base . --b-env STEMJEPA_ALIGN_THREADS=1   # one setting, same code
    python scripts/scale_ab.py --quick --base /work/old --legacy --concurrent-mixes 1,32 --legacy-uncached
        # A = 53cbbde, the code issue 18 was filed against (evaluation/legacyab.py)

What runs: each side is its own process (this file run as a worker under that side's checkout, cwd and
PYTHONPATH its root), holding the bundled checkpoint as the service loads it (--model shipped, the default: since
model.querypredictor a query's speed depends on the checkpoint's predictor units; --model compact: that size
with random weights, as runs before 2026-12-01 measured), the service's default settings and threads
(STEMJEPA_THREADS), and one
`Retriever` per catalogue size over a real `Build` (evaluation.scalecat: the real on-disk format; simulated vectors,
features, frames and metadata; real or synthesised onset and chroma rows). The catalogues are written once, by
this checkout's evaluation.scalecat: A reads them in store format 2 (3194227 reads no later one), B in store
format 3, what this checkout writes (--b-store int8: format 2 too, the same bytes on both sides); the same
vectors, frames and rows either way.

With --legacy, side A is 53cbbde, which has no `Build` and decodes every hit's audio file at query time for its
onset/chroma signature (an LRU of 256 stems): its worker (evaluation/legacyab.py) serves 53cbbde's own Runtime and
Retriever a duck-typed catalogue over the same FAISS files, the same frames in its float16 packs (store format 1),
and real 3-minute 44.1 kHz stereo FLACs (--flacs files tiled from --flac-source, reused across rows); "cold" also
drops those files' page cache and empties its LRU, and each clients run starts so.

Per catalogue size and mix length, for each request (a different generated mix each time, the same for A and B),
the order A/B alternating: the page cache of every pack file dropped, the request (cold), then the same request
again (warm). Then at --concurrent-size stems, --clients clients through one event loop send --concurrent-requests
requests in all, A then B then A then B (--concurrent-rounds rounds), for each --concurrent-mixes count N
(request i sends mix i mod N: 1, the same mix every time, as before; more, different music).

Reported per side: wall p50/p95 (ms), CPU per request (ms, process time: every thread), and per stage the
median wall (the service's own timings) and CPU: decode, embed (the batcher's forward passes), analyse (the
query's tempo/beats/key/signature), search (candidates, shortlist, ranking), align (every hit's offsets); the
B/A ratios of the medians; and for the clients, throughput (requests/s), errors and CPU per request.
Machine load (os.getloadavg) and the host's speed (a one-thread fp32 matrix product, GFLOP/s) are printed
before and after: on a shared virtual machine the same code's wall times move by a fifth from one run to the
next (2026-11-30: 885-1325 ms p50 for the same 3194227 requests), so trust the ratios and the CPU, and read
an absolute time beside the host speed it was measured at.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASE_COMMIT = "3194227"
LEGACY_COMMIT = "53cbbde"  # as evaluation.legacyab.LEGACY_COMMIT (this file imports no project module at its top)
HERE = Path(__file__).resolve().parents[1]
STAGES = ("decode", "embed", "analyse", "search", "align")  # as evaluation.abclient.AB_STAGES


# ---- the worker: one side's code, driven over stdin/stdout -------------------------------------------------------


def _load(name: str) -> Any:
    """A module of this checkout's evaluation/ loaded by path, whatever `evaluation` package is importable."""
    spec = importlib.util.spec_from_file_location(f"scale_ab_{name}", HERE / "evaluation" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker(args: argparse.Namespace) -> None:
    """Serves one side: reads JSON commands from stdin, answers one JSON line each on the original stdout
    (everything the code under test prints goes to stderr). The worker is evaluation/servebench.py's
    `ab_worker` of this checkout (with --legacy: its `legacy_ab_worker`, for 53cbbde),
    loaded by path, so that both sides run the same measuring code (evaluation/abclient.py) against their own
    packages (PYTHONPATH)."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    # The measuring code the workers import as evaluation.abclient (and, for 53cbbde, evaluation.legacyab) is
    # this checkout's, whatever the side's own `evaluation` package holds (3194227's and 53cbbde's: neither).
    sys.modules["evaluation.abclient"] = _load("abclient")
    servebench = _load("servebench")
    if args.legacy:
        sys.modules["evaluation.legacyab"] = _load("legacyab")
        servebench.legacy_ab_worker(Path(args.root), args.model, sys.stdin, out, _commit(Path.cwd()))
    else:
        servebench.ab_worker(Path(args.root), args.model, args.stem_seconds, sys.stdin, out, _commit(Path.cwd()),
                             args.store)


# ---- the driver ---------------------------------------------------------------------------------------------------


def _percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    at = (len(s) - 1) * q / 100
    lo = int(at)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (at - lo)


def _commit(path: Path) -> str:
    got = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return got.stdout.strip() + ("+changes" if dirty else "")


class Side:
    """One side's worker process."""

    def __init__(self, name: str, checkout: Path, args: argparse.Namespace, extra_env: list[str],
                 legacy: bool = False, store: str = "int8") -> None:
        self.name = name
        env = dict(os.environ, PYTHONPATH=str(checkout))
        for item in extra_env:
            name_, _, value = item.partition("=")
            env[name_] = value
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--root", str(args.root),
               "--model", args.model, "--stem-seconds", str(args.stem_seconds), "--store", store] + \
            (["--legacy"] if legacy else [])
        self.proc = subprocess.Popen(cmd, cwd=checkout, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.commit = self._read()["commit"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} exited ({self.proc.wait()}); its stderr says why")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def ensure_base(path: Path, commit: str) -> None:
    """A checkout of `commit` at `path` (git worktree add), unless one is there (this checkout itself: as it is)."""
    if path.resolve() == HERE:
        return
    if path.exists():
        have = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        want = subprocess.run(["git", "-C", str(HERE), "rev-parse", commit], capture_output=True, text=True).stdout
        if have.strip() != want.strip():
            raise SystemExit(f"{path} holds {have.strip()[:12]}, not {commit}: remove it or pass --base elsewhere")
        return
    subprocess.run(["git", "-C", str(HERE), "worktree", "add", "--detach", str(path), commit], check=True)


def write_catalogues(args: argparse.Namespace, sizes: list[int]) -> None:
    """The simulated catalogues both sides read (each written once; an existing one is reused)."""
    import torch

    from evaluation import scalecat
    from evaluation.bench import random_model
    from evaluation.faissbench import clustered_vectors
    from evaluation.servebench import _features
    from model.embed import Embedder

    embedder = Embedder(random_model("compact" if args.model == "shipped" else args.model), torch.device("cpu"))
    names = embedder.vocabulary.names
    lay = scalecat.layout(args.stem_seconds, embedder.frame_seconds)
    rows = scalecat.real_rows(args.source, embedder.sample_rate, args.stem_seconds)
    for store in sorted({"int8", args.b_store}):
        pool = scalecat.write_pool(args.root, rows, args.pool, embedder.frame_dim, lay, store)
        for n in sizes:
            if (args.root / f"cat-{n}-{store}" / "manifest.json").is_file():
                continue
            vector_dir = args.root / f"vectors-{n}"
            if not (vector_dir / f"{names[0]}.faiss").is_file():
                scalecat.write_vectors(vector_dir, clustered_vectors(n, embedder.dim, seed=n), names)
            scalecat.write_catalogue(args.root, n, store, pool, embedder.dim, embedder.frame_dim, names,
                                     _features(n, n), vector_dir)
    if args.legacy:  # 53cbbde's frames (store format 1) and the audio files its signatures are decoded from
        legacyab = _load("legacyab")
        pool16 = scalecat.write_pool(args.root, rows, args.pool, embedder.frame_dim, lay, "float16")
        flacs = legacyab.write_flacs(args.root, args.flac_source, args.flacs, args.stem_seconds)
        for n in sizes:
            legacyab.write_legacy(args.root, n, pool16["frames"], flacs, names, args.stem_seconds,
                                  embedder.frame_dim)


def host_gflops() -> float:
    """The host's speed now: a 1024^3 fp32 matrix product on one thread (evaluation.machine.gemm_gflops)."""
    import torch

    from evaluation.machine import gemm_gflops

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return float(gemm_gflops(torch.device("cpu"), 1024, 0.5)["gflops"])
    finally:
        torch.set_num_threads(threads)


def drop_all(args: argparse.Namespace, n: int) -> None:
    """The page cache of both sides' files at n stems (with --legacy, side A's frames and FLACs too)."""
    from evaluation.scalecat import drop_cached

    for store in sorted({"int8", args.b_store}):
        drop_cached(args.root / f"cat-{n}-{store}")
    if args.legacy:
        _load("legacyab").drop_cached(args.root, n)


def _med(rows: list[dict[str, Any]], *keys: str) -> float:
    vals = []
    for r in rows:
        v: Any = r
        for k in keys:
            v = v[k]
        vals.append(float(v))
    return statistics.median(vals)


def summarise(got: dict[tuple[str, int, float, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for (side, n, seconds, cache), runs in sorted(got.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][3], kv[0][0])):
        walls = [r["wall_ms"] for r in runs]
        row = {"side": side, "catalogue": n, "mix_seconds": seconds, "cache": cache, "requests": len(runs),
               "p50_ms": statistics.median(walls), "p95_ms": _percentile(walls, 95),
               "cpu_ms": _med(runs, "cpu_ms")}
        for s in STAGES:
            row[f"{s}_ms"] = _med(runs, "stage_ms", s)
            row[f"{s}_cpu_ms"] = _med(runs, "stage_cpu_ms", s)
        out.append(row)
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = ["p50_ms", "p95_ms", "cpu_ms"] + [f"{s}_ms" for s in STAGES] + [f"{s}_cpu_ms" for s in STAGES]
    head = ["stems", "mix", "cache", "side"] + [c.removesuffix("_ms").replace("_cpu", " cpu") for c in cols]
    print(" ".join(f"{h:>9s}" for h in head))
    by = {(r["catalogue"], r["mix_seconds"], r["cache"], r["side"]): r for r in rows}
    for (n, seconds, cache, side), r in by.items():
        print(" ".join(f"{x:>9}" for x in (n, f"{seconds:.0f}s", cache, side)) + " "
              + " ".join(f"{r[c]:9.1f}" for c in cols))
        if side == "B" and (n, seconds, cache, "A") in by:
            a = by[(n, seconds, cache, "A")]
            print(" ".join(f"{x:>9}" for x in ("", "", "", "B/A")) + " "
                  + " ".join(f"{r[c] / a[c]:9.2f}" if a[c] > 0 else f"{'-':>9s}" for c in cols))


def _variant(variant: tuple[int, bool]) -> str:
    count, uncached = variant
    return (f"{count} different mixes" if count > 1 else "the same mix") + (", A uncached" if uncached else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--store", default="int8", help=argparse.SUPPRESS)  # a worker's catalogues: cat-<n>-<store>
    p.add_argument("--b-store", choices=("format3", "int8"), default="format3",
                   help="Store format B reads: format3 (what this checkout writes; default) or int8 (format 2, what "
                   "A reads, for the same bytes on both sides). A reads int8: 3194227 cannot read format 3.")
    p.add_argument("--quick", action="store_true", help="30 s mixes only, 3 requests per cell, 1 client round.")
    p.add_argument("--base", type=Path, default=Path("/work/base"), help="Checkout of the starting code (A); "
                   "made with `git worktree add` at --base-commit if missing.")
    p.add_argument("--base-commit", default=None, help=f"Commit of --base (default {BASE_COMMIT}; with --legacy "
                   f"{LEGACY_COMMIT}).")
    p.add_argument("--legacy", action="store_true", help=f"Side A is {LEGACY_COMMIT} (the code issue 18 was filed "
                   "against: hits' signatures decoded from their audio files at query time), served by "
                   "evaluation/legacyab.py over float16 frames and real FLACs written beside the catalogues.")
    p.add_argument("--flacs", type=int, default=32, help="With --legacy: distinct 3-minute FLACs behind the rows.")
    p.add_argument("--flac-source", type=Path, default=HERE.parent / "shared/data/extra/trackswitch-demo",
                   help="With --legacy: folder of real stems the FLACs are tiled from.")
    p.add_argument("--a-env", action="append", default=[], metavar="NAME=VALUE",
                   help="Environment of side A only (repeatable), e.g. a setting: STEMJEPA_REFINE_TOP=3.")
    p.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE",
                   help="Environment of side B only (repeatable). With --base at this checkout, A and B differ only "
                   "by these: e.g. --base . --b-env STEMJEPA_ALIGN_THREADS=1.")
    p.add_argument("--root", type=Path, default=Path("/tmp/scale-ab"), help="Where the catalogues are written "
                   "(reused by later runs).")
    p.add_argument("--sizes", default="10000,100000", help="Catalogue sizes (stems).")
    p.add_argument("--mix-seconds", default="30,180", help="Mix lengths (s).")
    p.add_argument("--requests", type=int, default=8, help="Requests per size, mix, side and cache state.")
    p.add_argument("--pause", type=float, default=0.0, help="Seconds of quiet before each timed request, so that "
                   "work one side leaves running after its answer (BLAS threads spinning, deferred frees) is "
                   "not billed to the other side's next request.")
    p.add_argument("--concurrent-size", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--concurrent-requests", type=int, default=48)
    p.add_argument("--concurrent-rounds", type=int, default=2)
    p.add_argument("--concurrent-mixes", default="1", help="Comma-separated: for each N, the clients' runs with "
                   "request i sending mix i mod N (1: every request the same mix; more: different music, "
                   "evaluation.abclient.mix_bodies).")
    p.add_argument("--legacy-uncached", action="store_true", help="With --legacy: for each N, a further clients "
                   "run where side A keeps no hit's signature (LRU of 0 stems: every hit's FLAC decoded, as when "
                   "producers' hits do not repeat, which the random-weight model's queries barely do).")
    p.add_argument("--model", default="shipped",
                   help="'shipped': the bundled checkpoint, as the service loads it (each side its own); or a model "
                        "size with random weights (compact, small, ...).")
    p.add_argument("--stem-seconds", type=float, default=180.0)
    p.add_argument("--pool", type=int, default=512, help="Distinct stems whose rows the packs hold.")
    p.add_argument("--source", type=Path, default=None, help="Folder of real stems whose onset/chroma rows fill "
                   "the packs (default: synthesised rows).")
    p.add_argument("--out", type=Path, default=None, help="Write every measurement as JSON here.")
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    # The driver writes the catalogues with this checkout's evaluation.scalecat, whatever else is installed.
    sys.path.insert(0, str(HERE))
    if args.quick:
        args.mix_seconds, args.requests, args.concurrent_rounds = "30", 3, 1
        args.concurrent_requests = min(args.concurrent_requests, 32)
    args.base = args.base.resolve()
    if args.base_commit is None:
        args.base_commit = LEGACY_COMMIT if args.legacy else BASE_COMMIT
    variants = [(int(x), False) for x in args.concurrent_mixes.split(",")]
    if args.legacy and args.legacy_uncached:
        variants += [(count, True) for count, _ in variants]
    sizes = [int(x) for x in args.sizes.split(",")]
    mixes = [float(x) for x in args.mix_seconds.split(",")]
    args.root.mkdir(parents=True, exist_ok=True)
    ensure_base(args.base, args.base_commit)
    write_catalogues(args, sorted(set(sizes) | ({args.concurrent_size} if args.clients else set())))

    load_before, speed_before = os.getloadavg(), host_gflops()
    sides = {"A": Side("A", args.base, args, args.a_env, legacy=args.legacy),
             "B": Side("B", HERE, args, args.b_env, store=args.b_store)}
    print(f"A = {sides['A'].commit} ({args.base}) {' '.join(args.a_env)}, B = {sides['B'].commit} ({HERE}) "
          f"{' '.join(args.b_env)}; load {load_before}; host {speed_before:.1f} GFLOP/s on one thread", flush=True)
    got: dict[tuple[str, int, float, str], list[dict[str, Any]]] = {}
    agree: list[float] = []
    try:
        for n in sizes:
            for side in sides.values():
                side.ask(op="load", size=n)
            for seconds in mixes:
                for side in sides.values():  # warm-up: model, allocator, the build's first-use preparations
                    side.ask(op="retrieve", size=n, seconds=seconds, seed=999)
                for rep in range(args.requests):
                    order = ["A", "B"] if rep % 2 == 0 else ["B", "A"]
                    answers = {}
                    for name in order:
                        drop_all(args, n)
                        time.sleep(args.pause)
                        cold = sides[name].ask(op="retrieve", size=n, seconds=seconds, seed=rep, cold=True)
                        time.sleep(args.pause)
                        warm = sides[name].ask(op="retrieve", size=n, seconds=seconds, seed=rep)
                        got.setdefault((name, n, seconds, "cold"), []).append(cold)
                        got.setdefault((name, n, seconds, "warm"), []).append(warm)
                        answers[name] = cold
                    same = [abs(x - y) for x, y, sa, sb in zip(answers["A"]["offsets"], answers["B"]["offsets"],
                                                                answers["A"]["stems"], answers["B"]["stems"],
                                                                strict=True) if sa == sb]
                    agree += same
                    print(f"{n} stems, {seconds:.0f} s, request {rep}: "
                          + ", ".join(f"{k} cold {answers[k]['wall_ms']:.0f} ms ({answers[k]['cpu_ms']:.0f} cpu)"
                                      for k in ("A", "B")), flush=True)
        concurrent: list[dict[str, Any]] = []
        if args.clients:
            for side in sides.values():
                side.ask(op="load", size=args.concurrent_size)
                side.ask(op="retrieve", size=args.concurrent_size, seconds=30.0, seed=999)
            for variant in variants:
                count, uncached = variant
                for rnd in range(args.concurrent_rounds):
                    for name in (["A", "B"] if rnd % 2 == 0 else ["B", "A"]):
                        if args.legacy:  # each run starts cold: no page cache, 53cbbde's signature LRU empty
                            drop_all(args, args.concurrent_size)
                        r = sides[name].ask(op="concurrent", size=args.concurrent_size, seconds=30.0,
                                            clients=args.clients, requests=args.concurrent_requests, mixes=count,
                                            cold=args.legacy, cache_stems=0 if uncached else None)
                        concurrent.append({"side": name, "round": rnd, "variant": variant, **r})
                        print(f"{args.clients} clients at {args.concurrent_size}, {_variant(variant)}: {name} "
                              f"{r['requests_per_s']:.2f} req/s, {r['errors']} errors, "
                              f"{r['cpu_ms_per_request']:.0f} ms CPU per request, {r['distinct_stems']} distinct "
                              "stems answered", flush=True)
    finally:
        for side in sides.values():
            side.close()
    rows = summarise(got)
    speed_after = host_gflops()
    print(f"\nload before {load_before}, after {os.getloadavg()}; host {speed_before:.1f} then {speed_after:.1f} "
          f"GFLOP/s on one thread; medians over {args.requests} requests per cell; stage columns: the service's "
          "wall timings, then CPU")
    print_table(rows)
    if agree:
        # Reading different store formats alone moves offsets: with B at format 3 and A at format 2, identical
        # code (--base .) agreed on 0 of 40 (2026-11-30), so the line says so rather than suggest a change.
        caveat = "" if args.b_store == "int8" else (" (A reads store format 2, B format 3: that alone moves "
                                                    "offsets; --b-store int8 compares like with like)")
        print(f"offsets of the same stems, B vs A: {sum(d <= 0.01 for d in agree)}/{len(agree)} within 10 ms, "
              f"largest difference {max(agree):.3f} s{caveat}")
    for variant in variants if concurrent else []:
        print(f"{args.clients} clients at {args.concurrent_size} stems, {args.concurrent_requests} requests, "
              f"{_variant(variant)}:")
        for name in ("A", "B"):
            mine = [c for c in concurrent if c["side"] == name and c["variant"] == variant]
            print(f"  {name}: {statistics.median(c['requests_per_s'] for c in mine):.2f} req/s, "
                  f"errors {sum(c['errors'] for c in mine)}, "
                  f"CPU {statistics.median(c['cpu_ms_per_request'] for c in mine):.0f} ms per request, "
                  f"p50 {statistics.median(c['p50_ms'] for c in mine):.0f} ms, "
                  f"p95 {statistics.median(c['p95_ms'] for c in mine):.0f} ms, "
                  f"distinct stems {max(c['distinct_stems'] for c in mine)}")
        a, b = (statistics.median(c["requests_per_s"] for c in concurrent if c["side"] == s and c["variant"] == variant)
                for s in ("A", "B"))
        print(f"  throughput B/A: {b / a:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"A": sides["A"].commit, "B": sides["B"].commit, "load_before": load_before,
                                        "load_after": os.getloadavg(), "host_gflops": [speed_before, speed_after],
                                        "latency": rows, "concurrent": concurrent,
                                        "args": {k: str(v) for k, v in vars(args).items()}}, indent=1))


if __name__ == "__main__":
    main()
