"""`tierflow verify FILE` and `tierflow credentials show|rotate|export-ca` (Content Credentials)."""

from __future__ import annotations

from pathlib import Path

import typer

from tierflow.delivery.cli.output import State, console, emit_json, err

app = typer.Typer(help="The workspace signing certificate: show it, rotate it, export its CA for clients.",
                  no_args_is_help=True)

STYLE = {"valid": "green", "untrusted": "yellow", "tampered": "red", "unsigned": "yellow", "unreadable": "red"}


def _home() -> Path:
    from tierflow.config import Settings

    home = Settings().home
    home.mkdir(parents=True, exist_ok=True)
    return home


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="credentials")

    @root.command()
    def verify(
        file: Path = typer.Argument(..., help="An exported image or video."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Check a file's Content Credentials (C2PA): valid, untrusted, tampered or unsigned.

        Exit 0 only for a valid manifest chain signed by a trusted certificate (the workspace CA or
        a root in TIERFLOW_TRUST_ANCHORS); 1 tampered, 10 untrusted, 11 unsigned, 12 unreadable.
        """
        State.json = json_out
        from tierflow.provenance.credentials import verify_file

        report = verify_file(_home(), file)
        if json_out:
            emit_json(report)
        else:
            colour = STYLE.get(report["status"], "white")
            console.print(f"[bold {colour}]{report['status'].upper()}[/]  {report['file']}", soft_wrap=True)
            console.print(f"  {report['message']}", soft_wrap=True)
            for link in report["chain"]:
                mark = {"valid": "[green]✓[/]", "untrusted": "[yellow]?[/]", "unsigned": "[yellow]-[/]"}.get(
                    link["status"], "[red]✗[/]")
                actions = ", ".join(link["actions"]) or "no actions"
                rel = f" ({link['relationship']})" if link["relationship"] else ""
                console.print(f"  {'  ' * link['depth']}{mark} {link['title']}{rel}: {actions}", soft_wrap=True)
        raise typer.Exit(report["exit_code"])

    @app.command()
    def show(json_out: bool = typer.Option(False, "--json")) -> None:
        """The signing certificate and CA in use (created on first use)."""
        State.json = json_out
        from tierflow.provenance.credentials import show as describe

        info = describe(_home())
        if json_out:
            emit_json(info)
            return
        console.print(f"signer  {info['signer']['subject']}  serial {info['signer']['serial']}  "
                      f"until {info['signer']['not_after'][:10]}  ({info['source']}: {info['cert_path']})",
                      soft_wrap=True)
        if info.get("ca"):
            console.print(f"CA      {info['ca']['subject']}  sha256 {info['ca']['sha256'][:16]}…  "
                          f"until {info['ca']['not_after'][:10]}", soft_wrap=True)
        if info["retired"]:
            console.print(f"retired {len(info['retired'])} earlier signing certificate(s)")
        if info["trust_anchors_env"]:
            console.print(f"also trusting the roots in {info['trust_anchors_env']}", soft_wrap=True)

    @app.command()
    def rotate(json_out: bool = typer.Option(False, "--json")) -> None:
        """A new signing key and certificate from the workspace CA; earlier exports still verify."""
        State.json = json_out
        from tierflow.provenance.credentials import rotate as do_rotate

        done = do_rotate(_home())
        if json_out:
            emit_json(done)
        else:
            console.print(f"rotated: serial {done['retired']['serial']} → {done['signer']['serial']} "
                          f"(same CA; earlier exports still verify)")

    @app.command("export-ca")
    def export_ca(
        out: Path = typer.Option(..., "--out", "-o", help="Where to write the CA certificate (PEM)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Write the workspace CA certificate for clients to trust (it holds no secret)."""
        State.json = json_out
        from tierflow.provenance.credentials import export_ca as do_export

        path = do_export(_home(), out)
        if json_out:
            emit_json({"path": str(path)})
        else:
            console.print(f"wrote {path}")
            err.print("clients trust it with TIERFLOW_TRUST_ANCHORS=<file> (tierflow verify) or by adding it "
                      "to their C2PA validator's trust anchors")
