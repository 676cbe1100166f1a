"""`tierflow models pull|list|rm`: the real model weights in the Hugging Face cache."""

from __future__ import annotations

import typer
from rich.table import Table

from tierflow.delivery.cli.output import State, console, emit_json

app = typer.Typer(help="Download, list and remove real model weights (Hugging Face cache).", no_args_is_help=True)

def patterns_for(spec) -> list[str] | None:
    """Only the files the preset loads (the same list the implicit download on first use takes)."""
    from tierflow.engines.local.loading import files_for

    return files_for(spec.preset.variant, spec.filename)


@app.command("pull")
def pull(
    presets: list[str] = typer.Argument(None, help="Preset ids (default: every tier's default)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Download presets at their pinned revision (resumable, with progress)."""
    State.json = json_out
    from tierflow.engines.catalog import REAL_DEFAULTS
    from tierflow.engines.local import models_cache
    from tierflow.engines.local.presets import get

    ids = presets or list(REAL_DEFAULTS.values())
    done = []
    for preset_id in ids:
        spec = get(preset_id)
        if not json_out:
            console.print(f"pulling [bold]{spec.id}[/] ({spec.repo}@{(spec.revision or 'main')[:12]})")
        path = models_cache.pull(spec.repo, spec.revision, progress=not json_out, allow_patterns=patterns_for(spec))
        if spec.preset.tiny_decoder:  # the draft preview decoder (TAESD, TAESDXL, ...)
            from tierflow.engines.local.loading import TINY_DECODER_FILES

            models_cache.pull(spec.preset.tiny_decoder, spec.preset.tiny_decoder_revision, progress=not json_out,
                              allow_patterns=TINY_DECODER_FILES)
        done.append({"id": spec.id, "repo": spec.repo, "revision": spec.revision, "path": str(path)})
    if json_out:
        emit_json({"pulled": done})


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """Every real preset and whether its weights are on disk."""
    State.json = json_out
    from tierflow.engines.local import models_cache
    from tierflow.engines.local.presets import CATALOGUE

    cached = {m.repo: m for m in models_cache.list_cached()}
    rows = []
    for spec in CATALOGUE:
        hit = cached.get(spec.repo)
        rows.append({"id": spec.id, "tier": spec.preset.tier.value, "repo": spec.repo, "revision": spec.revision,
                     "memory_gb": spec.preset.memory_gb, "cached": hit is not None,
                     "size_bytes": hit.size_bytes if hit else 0})
    if json_out:
        emit_json({"models": rows})
        return
    table = Table("preset", "tier", "repo", "revision", "GPU GB", "on disk")
    for r in rows:
        size = f"{r['size_bytes'] / 1e9:.1f} GB" if r["cached"] else "no"
        table.add_row(r["id"], r["tier"], r["repo"], (r["revision"] or "main")[:12], f"{r['memory_gb']:g}", size)
    console.print(table)


@app.command("rm")
def rm(preset: str = typer.Argument(..., help="Preset id."), json_out: bool = typer.Option(False, "--json")) -> None:
    """Remove a preset's weights from the cache."""
    State.json = json_out
    from tierflow.engines.local import models_cache
    from tierflow.engines.local.presets import get

    spec = get(preset)
    freed = models_cache.remove(spec.repo)
    if json_out:
        emit_json({"removed": spec.id, "bytes": freed})
    else:
        console.print(f"removed {spec.id} ({freed / 1e9:.2f} GB)")
