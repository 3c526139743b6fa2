// Small page behaviour with no server round trip: countdowns. Each <time data-countdown="<seconds>"> counts
// down from the seconds the server computed (never the visitor's clock), and reads "ended" at zero.

function format(seconds) {
  if (seconds <= 0) return "ended";
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  const pad = (n) => String(n).padStart(2, "0");
  return d > 0 ? `${d}d ${pad(h)}:${pad(m)}:${pad(s)}` : `${pad(h)}:${pad(m)}:${pad(s)}`;
}

const started = performance.now();
function tick() {
  const elapsed = (performance.now() - started) / 1000;
  for (const el of document.querySelectorAll("time[data-countdown]")) {
    const left = Math.max(0, Number(el.dataset.countdown) - elapsed);
    el.textContent = format(left);
    el.setAttribute("datetime", `PT${Math.round(left)}S`);
  }
}

if (document.querySelector("time[data-countdown]")) {
  tick();
  setInterval(tick, 1000);
}
