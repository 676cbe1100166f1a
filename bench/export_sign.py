"""What Content Credentials cost an export: a 2K PNG exported with and without its C2PA signature.

Two assets, stored through the real stage runner from photo-like pixels (no model): a 2048² render
with no parents (one manifest), and a 2048² upscale whose lineage is draft 512² → final 1024² →
upscale (three manifests: each ancestor is signed in turn as an ingredient). Each is exported with
``export_asset(..., sign=False)`` (PNG re-encode with the provenance chunks, atomic write) and with
``sign=True`` (the same, then the lineage signed with the workspace certificate). Median of
``--repeat`` runs after one warm-up (which also creates the workspace CA).

    python bench/export_sign.py [--repeat 5] [--size 2048]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ingest import ReplayEngine, photo_like  # noqa: E402

GOAL = 0.25  # signing may add at most 25% to a 2K export


def store(svc, project_id, stage, image, parent_ids=()):
    from tierflow.engines.base import RenderRequest
    from tierflow.stages.runner import RenderPlan, run_plan

    w, h = image.size
    request = RenderRequest(task="txt2img", prompt="a lighthouse at golden hour, oil painting", seeds=[7],
                            width=w, height=h)
    plan = RenderPlan(project_id=project_id, stage=stage, engine=ReplayEngine([image]), request=request,
                      parent_ids=list(parent_ids))
    return run_plan(svc, plan).assets[0]


def timed(plain, signed, repeat: int) -> tuple[float, float, float, float]:
    """Median wall and CPU seconds of each, runs interleaved so load drift hits both alike."""
    plain(), signed()  # warm-up
    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "signed": []}
    for _ in range(repeat):
        for name, fn in (("plain", plain), ("signed", signed)):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
    return med["plain"][0], med["signed"][0], med["plain"][1], med["signed"][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", type=int, default=2048)
    args = ap.parse_args()

    import os

    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.domain.models import Stage
    from tierflow.provenance.export import export_asset
    from tierflow.stages.guard import OpenGuard
    from tierflow.storage.projects_repo import ProjectsRepo

    big = args.size
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["TIERFLOW_HOME"] = str(home)
        svc = build(Settings(home=home, preset="tiny"), guard=OpenGuard())
        with svc.db.transaction() as s:
            project = ProjectsRepo(s).create("bench", min_drafts=0)
        single = store(svc, project.id, Stage.DRAFT, photo_like(1, big))
        d = store(svc, project.id, Stage.DRAFT, photo_like(2, big // 4))
        f = store(svc, project.id, Stage.FINAL, photo_like(3, big // 2), [d.id])
        up = store(svc, project.id, Stage.UPSCALE, photo_like(4, big), [f.id])
        out = Path(tmp) / "out.png"
        for label, asset, manifests in ((f"{big}² render, no parents", single, 1),
                                        (f"{big}² upscale of draft {big // 4}² → final {big // 2}²", up, 3)):
            wall_p, wall_s, cpu_p, cpu_s = timed(lambda a=asset: export_asset(svc, a.id, out, sign=False),
                                                 lambda a=asset: export_asset(svc, a.id, out), args.repeat)
            rows.append((label, manifests, wall_p, wall_s, cpu_p, cpu_s, out.stat().st_size))
        svc.close()

    print(f"\nexport of a {big}x{big} PNG, median of {args.repeat} interleaved runs "
          f"(load average {os.getloadavg()[0]:.1f}); CPU = process CPU seconds, wall = elapsed\n")
    print(f"{'asset':<44}{'manif.':>7}{'unsigned':>10}{'signed':>9}{'signing':>9}{'ratio':>7}"
          f"{'CPU uns.':>10}{'CPU sig.':>10}{'ratio':>7}{'MiB':>6}")
    for label, manifests, wall_p, wall_s, cpu_p, cpu_s, size in rows:
        print(f"{label:<44}{manifests:>7}{wall_p:>10.3f}{wall_s:>9.3f}{wall_s - wall_p:>9.3f}{wall_s / wall_p:>7.2f}"
              f"{cpu_p:>10.3f}{cpu_s:>10.3f}{cpu_s / cpu_p:>7.2f}{size / 2**20:>6.1f}")
    worst = max(cpu_s / cpu_p - 1 for *_, cpu_p, cpu_s, _ in rows)
    verdict = "meets" if worst <= GOAL else "misses"
    print(f"\ngoal: signing adds <= {GOAL:.0%} CPU to a {big}² export -> worst +{worst:.0%}, {verdict} it")

if __name__ == "__main__":
    main()
