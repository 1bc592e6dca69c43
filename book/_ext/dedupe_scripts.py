"""Sphinx extension: drop repeated scripts from each page, keeping every other script.

Jupyter Book 1.0.4 with sphinx-thebe 0.3.1 registers thebe's inline configuration twice, so every
page declares ``const THEBE_JS_URL`` twice and the browser reports a SyntaxError. This keeps the
first copy of every identical script (same file, same inline body, same attributes).

It runs *last* among the ``html-page-context`` handlers and edits the page's script list in place.
Sphinx's MathJax extension and myst-nb add their scripts (MathJax, the ipywidgets state,
``require.js``, ``embed-amd.js``) to that same list during this event: a handler that replaced the
list with a new one, or ran before them, would drop them from the page. (Every handler of the
event runs; ``emit_firstresult`` only picks the first template name returned.)
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
    scripts[:] = kept


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
