"""`tierflow engines`: every engine, its tier, capabilities and availability."""

from __future__ import annotations

import typer
from rich.table import Table

from tierflow.delivery.cli.context import services
from tierflow.delivery.cli.output import State, console, emit_json


def register(app: typer.Typer) -> None:
    @app.command()
    def engines(json_out: bool = typer.Option(False, "--json")) -> None:
        """List engines with tier, capabilities, price and whether they can run here."""
        State.json = json_out
        from tierflow.domain.models import Tier

        svc = services()
        defaults = {}
        for tier in Tier:
            try:
                defaults[tier.value] = svc.engines.default_id(tier)
            except Exception:  # noqa: BLE001 - a tier without engines has no default
                continue
        rows = []
        for engine_id in svc.engines.ids():
            engine = svc.engines.get(engine_id)
            info = engine.describe().to_dict()
            info["capabilities"] = engine.capabilities().to_dict()
            info["default"] = defaults.get(info["tier"]) == engine_id
            price = getattr(svc.guard, "price_info", None)
            info["price"] = price(engine) if price else None
            rows.append(info)
        if json_out:
            emit_json({"engines": rows, "defaults": defaults, "notices": svc.engines.notices})
            return
        table = Table()
        for col in ("engine", "tier", "kind", "default", "revision"):
            table.add_column(col, no_wrap=True)
        table.add_column("availability", overflow="fold")
        for r in rows:
            table.add_row(r["id"], r["tier"], r["kind"], "✓" if r["default"] else "", (r["revision"] or "-")[:10],
                          r["availability"])
        console.print(table)
        for note in svc.engines.notices:
            console.print(f"[yellow]note:[/] {note}")
