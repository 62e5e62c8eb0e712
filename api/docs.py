"""A self-contained API docs page: renders /api/openapi.json without any outside asset."""

from flask import Blueprint, Response

docs_page = Blueprint("api_docs_page", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>accessflow API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.5rem;overflow:auto}
.op{border-top:1px solid #ddd;padding:.5rem 0}.m{font-weight:bold;display:inline-block;width:4rem}
</style></head>
<body><h1>accessflow API</h1>
<p>The machine-readable document: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
<div id="doc">Loading…</div>
<script src="/api/docs.js"></script></body></html>
"""

SCRIPT = """
(async function () {
  const spec = await (await fetch('/api/openapi.json')).json();
  const root = document.getElementById('doc');
  root.textContent = '';
  const add = (parent, tag, text) => {
    const el = document.createElement(tag); if (text) el.textContent = text;
    parent.appendChild(el); return el;
  };
  add(root, 'p', spec.info.description || '');
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (method === 'parameters') continue;
      const box = add(root, 'div'); box.className = 'op';
      const head = add(box, 'div');
      add(head, 'span', method.toUpperCase()).className = 'm';
      add(head, 'code', path);
      if (op.summary) add(box, 'div', op.summary);
      if (op.description) add(box, 'div', op.description);
      const params = (op.parameters || []).map(p => p.name + ' (' + p.in + ')');
      if (params.length) add(box, 'div', 'parameters: ' + params.join(', '));
      const body = op.requestBody && op.requestBody.content['application/json'];
      if (body) add(box, 'pre', 'body: ' + JSON.stringify(body.schema));
      add(box, 'div', 'answers: ' + Object.keys(op.responses).join(', '));
    }
  }
  add(root, 'h2', 'Schemas');
  add(root, 'pre', JSON.stringify(spec.components.schemas, null, 1));
})();
"""


@docs_page.route("/api/docs")
def docs():
    return Response(PAGE, mimetype="text/html")


@docs_page.route("/api/docs.js")
def docs_script():
    return Response(SCRIPT, mimetype="text/javascript")
