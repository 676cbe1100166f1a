"""The `tierflow` command (Typer + Rich). Heavy libraries load only when a command needs them."""
