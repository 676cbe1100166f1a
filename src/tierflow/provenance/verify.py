"""Checking a file's Content Credentials: valid, untrusted, tampered or unsigned.

The manifest store is read and validated by c2pa-python against the workspace CA and the roots in
``TIERFLOW_TRUST_ANCHORS``. Every failure is pinned to the manifest it belongs to (the file's own,
or an ingredient's, found through the URLs c2pa reports and the ingredient assertions), so the
report names the first link of the chain that fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tierflow.provenance import c2pa_manifest, signer

VALID, UNTRUSTED, TAMPERED, UNSIGNED, UNREADABLE = "valid", "untrusted", "tampered", "unsigned", "unreadable"
EXIT_CODES = {VALID: 0, TAMPERED: 1, UNTRUSTED: 10, UNSIGNED: 11, UNREADABLE: 12}
TRUST_CODES = ("signingCredential.untrusted",)  # the signature is intact, its issuer is not an anchor
_URN = re.compile(r"/c2pa/(urn:[^/]+)")


def verify_bytes(data: bytes, home: Path, *, fmt: str | None = None, name: str = "") -> dict[str, Any]:
    """The verification report of ``data`` (never raises on a bad file: that is a status)."""
    report: dict[str, Any] = {"file": name, "status": UNSIGNED, "ok": False, "message": "", "signer": None,
                              "actions": [], "chain": [], "failures": [], "first_failure": None}
    why = c2pa_manifest.c2pa_available()
    if why:
        return _done(report, UNREADABLE, why)
    import c2pa

    try:
        store = c2pa_manifest.read_manifest_store(data, fmt, signer.trust_anchors(home))
    except c2pa.C2paError.ManifestNotFound:
        return _done(report, UNSIGNED, "no C2PA manifest: the file carries no Content Credentials")
    except c2pa.C2paError.NotSupported as e:
        return _done(report, UNREADABLE, f"not a format C2PA can read ({_short(e)})")
    except c2pa.C2paError as e:
        if not _looks_signed(data):
            return _done(report, UNREADABLE, f"C2PA cannot read this file ({_short(e)})")
        report["failures"].append({"code": "manifest.unreadable", "explanation": _short(e), "manifest": "this file"})
        report["first_failure"] = "this file"
        return _done(report, TAMPERED, f"the manifest store is damaged: {_short(e)}")
    except (ValueError, OSError) as e:  # a stream the library gives up on: a status, never a traceback
        return _done(report, UNREADABLE, f"C2PA cannot read this file ({_short(e)})")

    manifests: dict[str, Any] = store.get("manifests") or {}
    active = store.get("active_manifest")
    if not active or active not in manifests:
        return _done(report, UNSIGNED, "a manifest store without an active manifest")
    titles = _titles(manifests, active)
    owner_of_assertion = _ingredient_owners(manifests)
    failures: list[dict[str, Any]] = []
    results = store.get("validation_results") or {}
    for item in (results.get("activeManifest") or {}).get("failure") or []:
        failures.append(_failure(item, _urn(item.get("url")) or active, titles))
    for delta in results.get("ingredientDeltas") or []:
        target = owner_of_assertion.get(_assertion_key(delta.get("ingredientAssertionURI") or ""))
        for item in (delta.get("validationDeltas") or {}).get("failure") or []:
            failures.append(_failure(item, _urn(item.get("url")) or target or active, titles))
    # What each ingredient recorded about its own manifest when it was signed in.
    chain = _chain(manifests, active, titles)
    seen = {(f["code"], f["label"]) for f in failures}
    for link in chain:
        for item in link.pop("recorded_failures"):
            f = _failure(item, _urn(item.get("url")) or link["label"], titles)
            if (f["code"], f["label"]) not in seen:
                seen.add((f["code"], f["label"]))
                failures.append(f)

    order = {link["label"]: n for n, link in enumerate(chain)}
    failures.sort(key=lambda f: order.get(f["label"], len(order)))
    for link in chain:
        own = [f for f in failures if f["label"] == link["label"]]
        link["status"] = (UNSIGNED if link.get("unsigned") else TAMPERED if any(not _trust_only(f) for f in own)
                          else UNTRUSTED if own else VALID)
    report["chain"] = chain
    report["failures"] = [{k: v for k, v in f.items() if k != "label"} for f in failures]
    head = manifests[active]
    report["signer"] = head.get("signature_info")
    report["actions"] = _actions(head)
    state = store.get("validation_state")
    integrity = [f for f in failures if not _trust_only(f)]
    if integrity:
        report["first_failure"] = integrity[0]["manifest"]
        return _done(report, TAMPERED, f"tampered: {integrity[0]['manifest']} fails "
                                       f"({integrity[0]['code']}: {integrity[0]['explanation']})")
    if failures or state != "Trusted":
        first = failures[0]["manifest"] if failures else "this file"
        report["first_failure"] = first
        return _done(report, UNTRUSTED, f"intact, but {first} is signed by a certificate no trust anchor "
                                        "vouches for (tierflow credentials export-ca; TIERFLOW_TRUST_ANCHORS)")
    issuer = (report["signer"] or {}).get("issuer") or "?"
    return _done(report, VALID, f"valid: signed by {(report['signer'] or {}).get('common_name')} ({issuer}), "
                                f"{len(chain)} manifest(s) in the chain, all trusted")


def verify_file(path: Path, home: Path) -> dict[str, Any]:
    path = Path(path).expanduser()
    suffix = path.suffix.lower().lstrip(".")
    return verify_bytes(path.read_bytes(), home, fmt=suffix if suffix in c2pa_manifest.MIME else None,
                        name=str(path))


# -- internals -----------------------------------------------------------------------------------
def _done(report: dict[str, Any], status: str, message: str) -> dict[str, Any]:
    report["status"], report["message"], report["ok"] = status, message, status == VALID
    report["exit_code"] = EXIT_CODES[status]
    return report


def _looks_signed(data: bytes) -> bool:
    """A C2PA manifest store is a JUMBF box labelled ``c2pa``; without one the file was never signed."""
    return b"jumb" in data and b"c2pa" in data


def _short(e: Exception) -> str:
    return " ".join(str(e).split())[:300]


def _urn(url: str | None) -> str | None:
    m = _URN.search(url or "")
    return m.group(1) if m else None


def _assertion_key(uri: str) -> tuple[str | None, str]:
    return _urn(uri), uri.rsplit("/", 1)[-1]


def _trust_only(failure: dict[str, Any]) -> bool:
    return failure["code"].startswith(TRUST_CODES)


def _failure(item: dict[str, Any], label: str, titles: dict[str, str]) -> dict[str, Any]:
    return {"code": item.get("code", "?"), "explanation": item.get("explanation", ""), "label": label,
            "manifest": titles.get(label, label)}


def _titles(manifests: dict[str, Any], active: str) -> dict[str, str]:
    titles = {label: f"ingredient {m.get('title') or label}" for label, m in manifests.items()}
    titles[active] = "this file"
    return titles


def _ingredient_owners(manifests: dict[str, Any]) -> dict[tuple[str | None, str], str]:
    """(manifest urn, ingredient assertion label) → the ingredient's own manifest urn."""
    owners: dict[tuple[str | None, str], str] = {}
    for label, m in manifests.items():
        for ing in m.get("ingredients") or []:
            if ing.get("active_manifest"):
                owners[(label, ing.get("label") or "")] = ing["active_manifest"]
    return owners


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for a in (assertion.get("data") or {}).get("actions") or []:
                out.append({k: a.get(k) for k in ("action", "description", "digitalSourceType", "parameters")
                            if a.get(k) is not None})
    return out


def _chain(manifests: dict[str, Any], active: str, titles: dict[str, str]) -> list[dict[str, Any]]:
    """The file's manifest, then its ingredients depth first (parent before grandparent)."""
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(label: str, relationship: str | None, recorded: list[dict[str, Any]], depth: int) -> None:
        if label in seen or label not in manifests or depth > 64:
            return
        seen.add(label)
        m = manifests[label]
        chain.append({"label": label, "manifest": titles.get(label, label), "title": m.get("title"),
                      "relationship": relationship, "signer": (m.get("signature_info") or {}).get("common_name"),
                      "actions": [a["action"] for a in _actions(m)], "depth": depth, "recorded_failures": recorded})
        for ing in m.get("ingredients") or []:
            results = ing.get("validation_results") or {}
            failed = list((results.get("activeManifest") or {}).get("failure") or [])
            for delta in results.get("ingredientDeltas") or []:
                failed.extend((delta.get("validationDeltas") or {}).get("failure") or [])
            if ing.get("active_manifest"):
                visit(ing["active_manifest"], ing.get("relationship"), failed, depth + 1)
            else:
                chain.append({"label": f"{label}/{ing.get('title')}", "manifest": f"ingredient {ing.get('title')}",
                              "title": ing.get("title"), "relationship": ing.get("relationship"), "signer": None,
                              "actions": [], "depth": depth + 1, "recorded_failures": [], "unsigned": True})

    visit(active, None, [], 0)
    return chain
