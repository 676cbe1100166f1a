"""`tierflow studio`: the web studio and the REST API on one local port."""

from __future__ import annotations

import typer

from tierflow.delivery.cli.context import services, show_notices
from tierflow.delivery.cli.output import State, console, emit_json, warn

def register(app: typer.Typer) -> None:
    @app.command()
    def studio(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
        port: int = typer.Option(8765, "--port", help="TCP port."),
        jobs: str = typer.Option(None, "--jobs", help="inprocess (default; env TIERFLOW_JOBS) or durable: "
                                 "drafts and finals are queued in the database for `tierflow worker`."),
        workers: int = typer.Option(0, "--workers", help="With --jobs durable: also run N worker threads per "
                                    "tier in this process (separate `tierflow worker` processes survive a crash)."),
        allow_anonymous: bool = typer.Option(False, "--allow-anonymous", help="Serve a non-loopback --host "
                                             "although no admin account exists (anyone who reaches it has full "
                                             "rights to every project)."),
        json_out: bool = typer.Option(False, "--json", help="Print the URLs as JSON, then serve."),
    ) -> None:
        """Serve the web studio and the REST API (OpenAPI docs at /docs) until Ctrl+C."""
        State.json = json_out
        import uvicorn

        from tierflow.delivery.api.app import create_app
        from tierflow.jobs.backend import check_mode, job_backend

        _check_port(host, port)
        svc = services()
        exposure = exposure_note(host, accounts(svc), allow_anonymous=allow_anonymous)
        mode = check_mode(jobs or svc.settings.jobs)
        show_notices()
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        tiny = (svc.settings.preset or "").lower() == "tiny"
        notes = list(svc.engines.notices)
        if tiny:
            notes.append("TIERFLOW_PRESET=tiny: every tier renders with tiny random-weight models (noise images, "
                         "for demos and tests)")
        if exposure:
            notes.append(exposure)
        if mode == "durable" and not workers:
            notes.append("--jobs durable: drafts and finals wait in the database until a `tierflow worker` "
                         "renders them (or pass --workers N)")
        backend = job_backend(svc, mode, workers=workers)
        if json_out:
            emit_json({"url": url, "api": f"{url}/api/v1", "docs": f"{url}/docs", "jobs": mode, "notices": notes})
        else:
            console.print(f"tierflow studio: [bold]{url}[/]   API {url}/api/v1   docs {url}/docs   (Ctrl+C stops)")
            warn([n for n in notes if n not in svc.engines.notices])
        uvicorn.run(create_app(svc, jobs=backend), host=host, port=port, log_level="warning")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def accounts(svc) -> dict[str, int]:
    """How many accounts exist, and how many of them are admins."""
    from tierflow.storage.users_repo import UsersRepo
    from tierflow.domain.models import Role

    with svc.db.read() as s:
        users = UsersRepo(s).list()
    return {"users": len(users), "admins": sum(1 for u in users if u.role is Role.ADMIN)}


def exposure_note(host: str, counts: dict[str, int], *, allow_anonymous: bool = False) -> str | None:
    """The warning for listening on ``host`` given the accounts, or InvalidInput (exit 2) when the studio
    would serve everyone who reaches it without an admin who can manage access.

    Like a notebook server that will not listen publicly without a token: loopback is always fine;
    another address needs an admin account (sign-in is then required), or an explicit
    ``--allow-anonymous``.
    """
    from tierflow.domain.errors import InvalidInput

    if is_loopback(host):
        return None
    users, admins = counts["users"], counts["admins"]
    if admins:
        return (f"listening on {host}: anyone who can reach this machine sees the sign-in page; every request "
                f"needs an account's token ({users} account{'s' if users != 1 else ''}, {admins} admin)")
    state = ("there are no accounts, so anyone who reaches it would have full rights to every project" if not users
             else f"there are {users} accounts but no admin to manage who signs in")
    if not allow_anonymous:
        raise InvalidInput(f"refusing to listen on {host}: {state}",
                           field="host", fix="create an admin first (`tierflow user create NAME --role admin`, "
                           "then sign in with its token), or use --host 127.0.0.1, or pass --allow-anonymous")
    if not users:
        return (f"listening on {host} with --allow-anonymous: there are no accounts, so anyone who can reach "
                "this machine has full rights to every project")
    return (f"listening on {host} with --allow-anonymous: there are {users} accounts but no admin; requests "
            "still need an account's token")


def _check_port(host: str, port: int) -> None:
    """Fail with one line (not a uvicorn traceback) when the port is invalid or taken."""
    import socket

    from tierflow.domain.errors import InvalidInput

    if not 1 <= port <= 65535:
        raise InvalidInput(f"{port} is not a TCP port", field="port", fix="use 1..65535, e.g. --port 8765")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise InvalidInput(f"{host!r} is not an address of this machine", field="host",
                           fix="use 127.0.0.1 (this machine) or 0.0.0.0 (every interface)") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise InvalidInput(f"cannot listen on {host}:{port} ({e.strerror})", field="port",
                               fix="choose another --port, or stop what is using it") from None
