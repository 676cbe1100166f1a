"""How people reach tierflow: the CLI (cli/), the REST API (api/) and the web studio (web/)."""
