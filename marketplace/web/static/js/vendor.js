// The vendor console's cues. The order board (#board) is re-fetched by live.js when an `order.` event arrives;
// here, after each swap, cards not seen before are highlighted (class "new") and, once the vendor has turned
// the sound on (browsers only let a page play sound after a click), a short WebAudio beep plays.
// On the stock page, each `stock.low` event is also listed as an alert above the table.

const seen = new Set();
let audio = null;

function cards() {
  return [...document.querySelectorAll("#board [data-order-id]")];
}

function beep() {
  if (!audio || audio.state !== "running") return;
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.type = "sine";
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.2, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.25);
}

const fresh = new Set(); // arrived while the board was open, not yet looked at (pointed at or acted on)

function markNew() {
  let arrived = 0;
  for (const card of cards()) {
    const id = card.dataset.orderId;
    if (!seen.has(id)) {
      seen.add(id);
      fresh.add(id);
      arrived += 1;
    }
    if (!fresh.has(id)) continue;
    // each refresh swaps in new cards: the highlight is put back until the vendor has looked at the card
    card.classList.add("new");
    card.addEventListener("pointerenter", () => fresh.delete(id), { once: true });
    card.addEventListener("submit", () => fresh.delete(id), { once: true });
  }
  if (arrived) beep();
}

const toggle = document.getElementById("sound-toggle");
if (toggle) {
  toggle.addEventListener("click", async () => {
    const on = toggle.dataset.sound !== "on";
    if (on) {
      audio = audio || new AudioContext();
      await audio.resume();
      beep();
    } else if (audio) {
      await audio.suspend();
    }
    toggle.dataset.sound = on ? "on" : "off";
    toggle.setAttribute("aria-pressed", String(on));
    toggle.textContent = `Sound cue: ${on ? "on" : "off"}`;
  });
}

if (document.getElementById("board")) {
  for (const card of cards()) seen.add(card.dataset.orderId); // what was there at load is not new
  document.body.addEventListener("htmx:afterSettle", () => markNew());
}

const alerts = document.getElementById("stock-alerts");
if (alerts) {
  document.body.addEventListener("feed:event", (event) => {
    const message = event.detail;
    if (message.type !== "stock.low") return;
    const item = document.createElement("li");
    item.className = "flash";
    item.textContent = `Low stock: SKU ${message.data.sku_id} has ${message.data.available} available (threshold ${message.data.low_stock_threshold}).`;
    alerts.prepend(item);
  });
}
