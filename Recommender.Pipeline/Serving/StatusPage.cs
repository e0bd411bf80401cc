namespace Recommender.Pipeline.Serving;

/// <summary>The status page at <c>/</c>: the model served, live QPS and latency percentiles, and a form to get recommendations.</summary>
internal static class StatusPage
{
    public const string Html = """
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recommender service</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}input{margin-right:1em}.err{color:#b00}
</style></head><body>
<h1>Recommender service</h1>
<p>Model <b id="version">…</b> <span id="arch"></span> — <a href="/v1/model">/v1/model</a> · <a href="/metrics">/metrics</a> · <a href="/openapi/v1.json">OpenAPI</a></p>
<h2>Traffic (last 10 s)</h2>
<table id="traffic"><tr><th>endpoint</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr></table>
<h2>Recommend</h2>
<form id="form">user <input id="user" size="12"> k <input id="k" value="10" size="3"> candidates (optional, comma-separated) <input id="cands" size="24">
<button>Recommend</button></form>
<p id="error" class="err"></p>
<table id="items"></table>
<script>
const fmt = x => x === null || x === undefined ? '' : (typeof x === 'number' ? x.toPrecision(4) : x);
async function refresh() {
  try {
    const s = await (await fetch('/v1/status')).json();
    document.getElementById('version').textContent = s.version;
    const t = document.getElementById('traffic');
    t.querySelectorAll('tr.row').forEach(r => r.remove());
    for (const [name, e] of Object.entries(s.endpoints)) {
      const r = t.insertRow(); r.className = 'row';
      for (const v of [name, e.qps, e.p50_ms, e.p95_ms, e.p99_ms]) r.insertCell().textContent = fmt(v);
    }
  } catch (e) { }
}
fetch('/v1/model').then(r => r.json()).then(m => document.getElementById('arch').textContent = '(' + m.architecture + ', ' + m.created + ')');
document.getElementById('form').addEventListener('submit', async ev => {
  ev.preventDefault();
  const body = { user: document.getElementById('user').value, k: parseInt(document.getElementById('k').value) };
  const c = document.getElementById('cands').value.trim();
  if (c) body.candidates = c.split(',').map(x => x.trim());
  const res = await fetch('/v1/recommend', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  const table = document.getElementById('items');
  table.innerHTML = '';
  document.getElementById('error').textContent = res.ok ? '' : (json.detail || res.status);
  if (!res.ok) return;
  const head = table.insertRow();
  for (const h of ['position', 'item', 'pCTR', 'pCVR', 'pCTCVR', 'rating', 'rank score']) { const th = document.createElement('th'); th.textContent = h; head.appendChild(th); }
  for (const i of json.items) {
    const r = table.insertRow();
    for (const v of [i.position, i.item, i.pctr, i.pcvr, i.pctcvr, i.rating, i.rank_score]) r.insertCell().textContent = fmt(v);
  }
});
refresh(); setInterval(refresh, 1000);
</script></body></html>
""";
}
