"""`tierflow worker`: claim queued jobs from the database and render them, locally or on Ray pools."""

from __future__ import annotations

import typer

from tierflow.delivery.cli.context import services
from tierflow.delivery.cli.output import State, console, emit_json, err


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        tiers: str = typer.Option("all", "--tiers",
                                  help="Comma-separated tiers to take jobs of (draft, final, cleanup, upscale, video), "
                                       "or all."),
        ray_address: str = typer.Option(None, "--ray", help="Ray cluster address, or 'local' to start one here."),
        lease: float = typer.Option(60.0, "--lease", help="Seconds a claimed job stays ours without a heartbeat."),
        once: bool = typer.Option(False, "--once", help="Run the queued jobs, then exit (no waiting)."),
        poll: float = typer.Option(1.0, "--poll", help="Seconds between looks at an empty queue."),
        max_attempts: int = typer.Option(3, "--max-attempts", help="Claims before a job that keeps dying fails."),
        draft_actors: int = typer.Option(1, "--draft-actors", help="With --ray: actors in the draft pool."),
        final_actors: int = typer.Option(1, "--final-actors", help="With --ray: actors in the final pool."),
        gpus: float = typer.Option(1.0, "--gpus-per-actor", help="With --ray: GPUs each actor reserves (0: CPUs)."),
        cpus: float = typer.Option(1.0, "--cpus-per-actor", help="With --ray: CPUs each actor reserves."),
        json_out: bool = typer.Option(False, "--json", help="Print a JSON summary of the jobs run."),
    ) -> None:
        """Render queued jobs of every stage (or of --tiers); a killed worker's jobs go back to the queue when its lease ends."""
        import signal
        import threading

        from tierflow.domain.errors import InvalidInput
        from tierflow.jobs.durable import TIERS, check_tiers, work

        State.json = json_out
        wanted = check_tiers(TIERS if tiers.strip() == "all" else [t.strip() for t in tiers.split(",") if t.strip()])
        if lease <= 0:
            raise InvalidInput(f"{lease} is not a lease", field="lease", fix="pass a number of seconds above 0")
        svc = services()
        stop = threading.Event()

        def on_signal(_signum, _frame) -> None:
            if stop.is_set():
                raise KeyboardInterrupt  # a second signal: stop now (the runner records the job as cancelled)
            err.print("stopping after the current job(s) (send again to stop now)")
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        pools = None
        if ray_address:
            from tierflow.scale.pools import start_pools

            pools = start_pools(svc.settings, wanted, ray_address, num_gpus=gpus, num_cpus=cpus,
                                sizes={"draft": draft_actors, "final": final_actors})

        def show(outcome) -> None:
            if not json_out:
                colour = "green" if outcome.status == "succeeded" else "red"
                console.print(f"[{colour}]{outcome.status}[/] {outcome.generation_id} ({outcome.stage}, "
                              f"{outcome.outputs} output(s), attempt {outcome.attempts})"
                              + (f": {outcome.error}" if outcome.error and outcome.status != "succeeded" else ""))

        if not json_out:
            err.print(f"worker taking {', '.join(wanted)} jobs" + (f" on Ray ({ray_address})" if pools else ""))
        try:
            outcomes = work(svc, wanted, stop, poll, lease_seconds=lease, once=once, max_attempts=max_attempts,
                            engine_for=pools.engine_for if pools else None,
                            threads=pools.threads() if pools else None, on_outcome=show)
        finally:
            if pools is not None:
                pools.close()
        if json_out:
            emit_json({"jobs": [o.to_dict() for o in outcomes]})
