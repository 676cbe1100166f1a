"""Draft speed: plain diffusers against tierflow's draft engine, in one run, on whatever device is here.

Both sides load the same architecture-exact SD-Turbo snapshot (random weights, built once into
``--cache`` at the preset's pinned revision, see engines/tiny/build_real.py) with the same
dtype, seeds, prompt and size. Plain diffusers is called as a user would (``pipe(...)``, PIL
out, full VAE). tierflow is ``sd-turbo``'s own engine with its fast path (latent drafts with a
tiny-decoder preview, cached prompt embeddings, batched variations; on CUDA also fused QKV,
channels_last and torch.compile with CUDA graphs).

Measures: time to first preview at batch 1 (median of ``--repeat`` after a warm-up), images/s
at ``--batch``, time to first image in a fresh process (compile cache warm from a first one),
and the max abs difference between tierflow's full-quality decode of a kept draft and plain
diffusers' image for the same seed.

    python bench/draft_speed.py [--device cpu|cuda] [--batch 8] [--size 512] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PROMPT = "a lighthouse on a cliff at golden hour, oil painting"
GOALS = {"cpu": {"first_preview": 3.0, "throughput": 3.0}, "cuda": {"first_preview": 8.0, "throughput": 6.0}}


def setup_env(cache: Path) -> None:
    os.environ["HF_HUB_CACHE"] = str(cache)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def plain_pipeline(device: str):
    import torch
    from diffusers import StableDiffusionPipeline

    from tierflow.engines.local.presets import get

    p = get("sd-turbo").preset
    dtype = torch.float32 if device == "cpu" else torch.float16
    pipe = StableDiffusionPipeline.from_pretrained(p.repo, revision=p.revision, variant=p.variant, torch_dtype=dtype,
                                                   local_files_only=True).to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def plain_call(pipe, seeds: list[int], size: int):
    import torch

    return pipe([PROMPT] * len(seeds), num_inference_steps=1, guidance_scale=0.0, width=size, height=size,
                generator=[torch.Generator("cpu").manual_seed(s) for s in seeds]).images


def tierflow_engine(device: str):
    from tierflow.engines.local.presets import get
    from tierflow.engines.local.stable_diffusion import StableDiffusionEngine

    engine = StableDiffusionEngine(get("sd-turbo").preset, offline=True, device=device)
    engine.load()
    return engine


def tierflow_call(engine, seeds: list[int], size: int) -> list:
    from tierflow.engines.base import RenderRequest

    engine.batch_size = len(seeds)
    request = RenderRequest(task="txt2img", prompt=PROMPT, seeds=seeds, width=size, height=size, steps=1,
                            guidance=0.0, preview=True)
    return list(engine.render(request))


def sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def child(side: str, device: str, size: int) -> None:
    """One fresh process: load, render one image, print seconds since the process started."""
    start = float(os.environ["BENCH_T0"])
    if side == "plain":
        plain_call(plain_pipeline(device), [1], size)
    else:
        tierflow_call(tierflow_engine(device), [1], size)
    sync(device)
    print(json.dumps({"seconds": time.time() - start}))


def restart_time(side: str, device: str, size: int, cache: Path) -> float:
    env = {**os.environ, "BENCH_T0": str(time.time()), "HF_HUB_CACHE": str(cache)}
    cmd = [sys.executable, __file__, "--child", side, "--device", device, "--size", str(size), "--cache", str(cache)]
    env["BENCH_T0"] = str(time.time())
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    ap.add_argument("--batch", type=int, default=None, help="throughput batch (default 8 on CPU, 16 on GPU)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=2, help="timed batch-1 runs after one warm-up (median)")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "tierflow-bench-hf")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--no-restart", action="store_true", help="skip the fresh-process rows")
    ap.add_argument("--child", choices=["plain", "tierflow"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    setup_env(args.cache)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.child:
        child(args.child, device, args.size)
        return
    batch = args.batch or (8 if device == "cpu" else 16)
    os.environ.setdefault("TIERFLOW_HOME", str(args.cache.parent / "tierflow-bench-home"))

    from tierflow.engines.tiny.build_real import build_preset_snapshot

    t = time.perf_counter()
    build_preset_snapshot("sd-turbo", args.cache, dtype="float16")
    print(f"snapshot ready in {time.perf_counter() - t:.1f} s ({args.cache})", flush=True)
    load = os.getloadavg()

    rows: dict[str, dict[str, float]] = {}
    plain = plain_pipeline(device)
    engine = tierflow_engine(device)
    seeds1 = [1]

    def first(name, fn):
        fn()  # warm-up
        times = [timed(fn, device) for _ in range(args.repeat)]
        rows.setdefault(name, {})["first_preview_s"] = statistics.median(times)
        print(f"{name}: first image at batch 1 {statistics.median(times):.3f} s", flush=True)

    first("plain", lambda: plain_call(plain, seeds1, args.size))
    first("tierflow", lambda: tierflow_call(engine, seeds1, args.size))
    seeds = list(range(100, 100 + batch))
    for name, fn in (("plain", lambda: plain_call(plain, seeds, args.size)),
                     ("tierflow", lambda: tierflow_call(engine, seeds, args.size))):
        if device != "cpu":
            fn()  # warm-up at this batch (CUDA graphs / autotune per shape)
        seconds = timed(fn, device)
        rows[name]["images_per_s"] = batch / seconds
        print(f"{name}: batch {batch} in {seconds:.2f} s ({batch / seconds:.2f} images/s)", flush=True)

    # the full-quality decode of a kept draft against plain diffusers' image, same seed
    import numpy as np

    out = tierflow_call(engine, [7], args.size)[0]
    full = np.asarray(engine.decode_latent(out.latent), np.int16)
    ref = np.asarray(plain_call(plain, [7], args.size)[0], np.int16)
    preview = np.asarray(out.image, np.int16)
    max_diff = int(np.abs(full - ref).max())
    print(f"full decode vs plain diffusers, seed 7: max abs difference {max_diff}/255 "
          f"(preview vs plain: {int(np.abs(preview - ref).max())}/255)", flush=True)
    del plain, engine

    if not args.no_restart:
        for name in ("plain", "tierflow"):
            restart_time(name, device, args.size, args.cache)  # fills the compile cache when compiling
            rows[name]["restart_first_image_s"] = restart_time(name, device, args.size, args.cache)
            print(f"{name}: fresh process to first image {rows[name]['restart_first_image_s']:.1f} s", flush=True)

    p, f = rows["plain"], rows["tierflow"]
    ratios = {"first_preview": p["first_preview_s"] / f["first_preview_s"],
              "throughput": f["images_per_s"] / p["images_per_s"]}
    if "restart_first_image_s" in f:
        ratios["restart"] = p["restart_first_image_s"] / f["restart_first_image_s"]
    goals = GOALS.get(device, GOALS["cpu"])
    fast = sorted(getattr(__import__("tierflow.engines.local.fastpath", fromlist=["x"]).FastPath.for_device(device),
                          "steps"))
    print(f"\nSD-Turbo architecture (random weights), {args.size}², 1 step, {device}, "
          f"{'float32' if device == 'cpu' else 'float16'}, load average {load[0]:.1f} on {os.cpu_count()} cores")
    print(f"tierflow fast path: {', '.join(fast)}\n")
    print(f"{'measure':<38}{'plain':>12}{'tierflow':>12}{'ratio':>9}{'goal':>8}")
    print(f"{'first preview, batch 1 (s)':<38}{p['first_preview_s']:>12.3f}{f['first_preview_s']:>12.3f}"
          f"{ratios['first_preview']:>8.2f}x{goals['first_preview']:>7.0f}x")
    print(f"{f'images/s, batch {batch}':<38}{p['images_per_s']:>12.3f}{f['images_per_s']:>12.3f}"
          f"{ratios['throughput']:>8.2f}x{goals['throughput']:>7.0f}x")
    if "restart" in ratios:
        print(f"{'fresh process to first image (s)':<38}{p['restart_first_image_s']:>12.1f}"
              f"{f['restart_first_image_s']:>12.1f}{ratios['restart']:>8.2f}x")
    print(f"{'full decode vs plain, max abs diff':<38}{'':>12}{max_diff:>9d}/255{'':>5}≤1/255")
    result = {"device": device, "size": args.size, "batch": batch, "steps": 1, "load_average": load,
              "cores": os.cpu_count(), "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__, "fast_path": fast, "rows": rows, "ratios": ratios,
              "max_abs_diff_full_decode": max_diff, "goals": goals}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
