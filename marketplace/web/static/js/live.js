// The page's live feed: one WebSocket to /feed (protocol in docs/realtime.md).
//
// The topics come from <body data-feed-topics="a b c">, and the feed position the page was rendered at from
// data-feed-last-id, so events between render and connect are replayed, not missed. The socket authenticates
// with the page session's HttpOnly cookie (the server checks the Origin). After a drop it reconnects with
// back-off (1 s doubling to 30 s, with jitter) and resumes from the last event id it saw; a close for an
// expired token (1008) first renews the session (GET /shop/session), then reconnects, unless signed out.
//
// What an event changes on the page:
//   stock.changed        [data-stock-sku="<sku_id>"] shows the units available
//   flash_sale.changed   [data-flash-remaining="<sale_id>"], [data-flash-sold], <meter data-flash-meter>, buy buttons
//   anything else        every [data-feed-refresh] whose value is a prefix of the event type (and whose
//                        data-feed-order matches the event's order, when it names one) gets the htmx
//                        event "feed-refresh", so it fetches its own fresh HTML from the server.

const body = document.body;
const topics = (body.dataset.feedTopics || "").split(" ").filter(Boolean);
let lastId = Number(body.dataset.feedLastId) || null;
let delay = 1000;
let socket = null;

function url() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/feed`;
}

function showStock(data) {
  for (const el of document.querySelectorAll(`[data-stock-sku="${data.sku_id}"]`)) {
    el.dataset.available = data.available;
    el.textContent = data.available > 0 ? `${data.available} in stock` : "Sold out";
  }
}

function showSale(data) {
  for (const el of document.querySelectorAll(`[data-flash-remaining="${data.sale_id}"]`)) {
    el.textContent = data.remaining;
  }
  for (const el of document.querySelectorAll(`[data-flash-sold="${data.sale_id}"]`)) {
    el.textContent = data.sold;
  }
  for (const el of document.querySelectorAll(`[data-flash-meter="${data.sale_id}"]`)) {
    el.value = data.remaining;
  }
  for (const el of document.querySelectorAll(`[data-flash-buy="${data.sale_id}"]`)) {
    el.disabled = data.remaining <= 0;
  }
}

// A notice on the visitor's own topic (user:<id>): an offer from a campaign, a coupon put in their wallet.
function showNotice(event) {
  const area = document.getElementById("flash");
  if (!area || !event.data) return;
  const note = document.createElement("p");
  note.className = "notice ok offer-toast";
  note.dataset.notice = event.type;
  note.dataset.coupon = event.data.coupon_id;
  // A campaign's offer names the coupon it put in the wallet: it replaces that coupon's own notice.
  for (const shown of area.querySelectorAll(`[data-coupon="${event.data.coupon_id}"]`)) shown.remove();
  const text = event.type === "campaign.offer" ? `${event.data.message} ` : `A coupon for you: ${event.data.name}. `;
  note.append(document.createTextNode(text));
  const link = document.createElement("a");
  link.href = "/shop/rewards";
  link.textContent = event.type === "campaign.offer" ? `“${event.data.name}” is in your wallet` : "See your wallet";
  note.append(link);
  area.append(note);
}

function refresh(event) {
  const order = event.data && event.data.order_id;
  for (const el of document.querySelectorAll("[data-feed-refresh]")) {
    const wanted = el.dataset.feedRefresh.split(" ");
    if (!wanted.some((prefix) => event.type.startsWith(prefix))) continue;
    if (el.dataset.feedOrder && order !== undefined && String(order) !== el.dataset.feedOrder) continue;
    if (!window.htmx) continue;
    if (el.classList.contains("htmx-request")) {
      // htmx drops a trigger while the element's own request is in flight, and that request may predate
      // this event: ask again once it has swapped in.
      body.addEventListener("htmx:afterSettle", () => refresh(event), { once: true });
      continue;
    }
    window.htmx.trigger(el, "feed-refresh", { event });
  }
}

function handle(message) {
  if (message.topic === undefined) {
    if (message.type === "subscribed" && lastId === null) lastId = message.last_id;
    return;
  }
  if (lastId !== null && message.id <= lastId) return; // already seen (a replay overlapping the stream)
  lastId = message.id;
  if (message.type === "stock.changed") showStock(message.data);
  else if (message.type === "flash_sale.changed") showSale(message.data);
  else if (message.type === "campaign.offer" || message.type === "coupon.issued") showNotice(message);
  refresh(message);
  body.dispatchEvent(new CustomEvent("feed:event", { detail: message }));
}

// Renews the session's access token cookie if it can; false once the visitor is signed out.
async function renew() {
  try {
    const answer = await fetch("/shop/session", { credentials: "same-origin", cache: "no-store" });
    return answer.ok ? (await answer.json()).signed_in : true; // a failed request: try again later
  } catch {
    return true;
  }
}

function connect() {
  socket = new WebSocket(url());
  socket.addEventListener("open", () => {
    delay = 1000;
    body.dataset.feed = "open";
    socket.send(JSON.stringify({ op: "subscribe", topics, last_id: lastId }));
  });
  socket.addEventListener("message", (frame) => {
    try {
      handle(JSON.parse(frame.data));
    } catch (error) {
      console.warn("live feed: unreadable message", error);
    }
  });
  socket.addEventListener("close", async (closed) => {
    body.dataset.feed = "closed";
    // 1008: the access token expired (renew it) or the session ended (signed out: this page's feed is over).
    if (closed.code === 1008 && !(await renew())) return;
    const wait = Math.min(delay, 30000) * (0.75 + Math.random() / 2);
    delay = Math.min(delay * 2, 30000);
    setTimeout(connect, wait);
  });
}

if (topics.length && "WebSocket" in window) connect();
