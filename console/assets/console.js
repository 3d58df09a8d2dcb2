// shinsei console: the fleet table's state cells follow the relay within a second.
// Served from the console itself (script-src 'self'); reads JSON from the same origin.
"use strict";
(function () {
  const table = document.getElementById("fleet");
  if (!table) { return; }
  async function refresh() {
    try {
      const r = await fetch("/fleet/state.json", { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) { return; }
      const list = await r.json();
      let unknown = false;
      for (const d of list.devices) {
        const cell = document.getElementById("state-" + d.device_id);
        const pending = document.getElementById("pending-" + d.device_id);
        if (!cell) { unknown = true; continue; }
        if (cell.textContent !== d.state) {
          cell.textContent = d.state;
          cell.className = "state state-" + d.state;
        }
        if (pending) { pending.textContent = d.pending; }
      }
      const busy = document.activeElement && document.activeElement.tagName === "INPUT";
      if (unknown && !busy) { window.location.reload(); }
    } catch (e) { /* the next tick tries again */ }
  }
  setInterval(refresh, 1000);
})();
