"""Sphinx extension: drop repeated inline scripts from each page.

Jupyter Book 1.0.4 with sphinx-thebe 0.3.1 registers thebe's inline configuration twice, so every
page declares ``const THEBE_JS_URL`` twice and the browser reports a SyntaxError. This keeps the
first copy of every identical script (same file, same inline body, same attributes).
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        name = getattr(script, "filename", script) or ""  # inline scripts: None or ""
        key = (str(name), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    # early: `html-page-context` is emitted with emit_firstresult, so a theme handler that
    # returns a template name would stop a later one from running
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
