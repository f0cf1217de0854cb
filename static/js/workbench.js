// The annotator workbench: hotkeys press the item's controls, focus follows each swapped-in
// item, and the time an item was on screen goes with its answer. The page works without this
// file (plain forms); this only makes it fast.
(function () {
  "use strict";

  let shownAt = performance.now();
  // Set while the item's own request is in flight, so a key pressed twice cannot answer the
  // next item with the previous item's lease, or the same lease twice.
  let busy = false;
  // Between htmx's swap and its settle the new item is on screen but its forms are not wired
  // yet (htmx processes new content while settling): a key pressed then waits for the settle.
  let swapping = false;
  let pendingKey = null;

  const item = () => document.getElementById("wb-item");
  const guideline = () => document.getElementById("wb-guideline");

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type);
  }

  function focusItem() {
    const el = item();
    if (el) el.focus();
  }

  function toggleGuideline() {
    const panel = guideline();
    if (!panel) return false;
    panel.open = !panel.open;
    if (!panel.open) {
      focusItem();
      return true;
    }
    const sectionId = item() && item().dataset.guidelineSection;
    const heading = (sectionId && document.getElementById(sectionId)) || panel.querySelector("summary");
    heading.setAttribute("tabindex", "-1");
    heading.scrollIntoView({ block: "start" });
    heading.focus({ preventScroll: true });
    return true;
  }

  function openAsk(summary) {
    const details = summary.closest("details");
    details.open = true;
    const text = details.querySelector("textarea");
    if (text) text.focus();
  }

  function closePanels() {
    const ask = document.getElementById("wb-ask");
    if (ask) ask.open = false;
    const panel = guideline();
    if (panel) panel.open = false;
    focusItem();
  }

  function press(control) {
    if (control.tagName === "SUMMARY") return openAsk(control);
    if (control.type === "checkbox") return control.click();
    if (busy) return;
    control.click();
  }

  function hotkey(event) {
    if (event.key === "Enter") return "Enter";
    return event.key.length === 1 ? event.key.toLowerCase() : null;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (event.key === "Escape") {
      closePanels();
      return;
    }
    const target = event.target;
    if (isTyping(target)) return;
    const key = hotkey(event);
    const current = item();
    if (!key || !current) return;
    // Enter on a focused button, link or summary already activates it.
    if (key === "Enter" && target.closest && target.closest("button, a, summary")) return;
    const control = current.querySelector(`[data-hotkey="${CSS.escape(key)}"]`);
    if (control && swapping) {
      event.preventDefault();
      pendingKey = key;
    } else if (control) {
      event.preventDefault();
      press(control);
    } else if (key === "g" && toggleGuideline()) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("[data-guideline-toggle]");
    if (link && guideline()) {
      event.preventDefault();
      if (!guideline().open) toggleGuideline();
    }
  });

  // Capture phase: runs before htmx reads the form, so the measured time goes with it.
  document.addEventListener(
    "submit",
    (event) => {
      const ms = event.target.querySelector && event.target.querySelector("input[name=ms]");
      if (ms) ms.value = String(Math.round(performance.now() - shownAt));
    },
    true,
  );

  const fromItem = (event) => {
    const elt = event.detail && event.detail.elt;
    const current = item();
    return Boolean(current && elt && current.contains(elt) && !elt.closest("#wb-ask"));
  };

  document.addEventListener("htmx:beforeRequest", (event) => {
    if (fromItem(event)) busy = true;
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    if (!event.detail.successful) busy = false;
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (target && target.id === "wb-item") {
      swapping = true;
      shownAt = performance.now(); // on screen from the swap, even if a key comes before settle
    }
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail && event.detail.target;
    if (target && target.id === "wb-ask-result") {
      const form = document.querySelector("#wb-ask form");
      if (form) form.reset();
      const ask = document.getElementById("wb-ask");
      if (ask) ask.open = false;
      focusItem();
      return;
    }
    if (target && target.id === "wb-item") {
      // htmx reports one swap's settle more than once (twice for the item here): act on the
      // first only, or a later one takes the focus back from a panel a queued key just opened.
      if (!swapping) return;
      busy = false;
      swapping = false;
      focusItem();
      const key = pendingKey;
      pendingKey = null;
      const control = key && item() && item().querySelector(`[data-hotkey="${CSS.escape(key)}"]`);
      if (control) press(control);
    } else if (!document.activeElement || document.activeElement === document.body) {
      focusItem();
    }
  });

  focusItem();

  // Keep the item's lease alive while the page is open: renew a few times per TTL (at most
  // once a minute), and say so when it ran out instead of failing silently on submit.
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  let renewedLease = null;
  let renewTimer = null;

  function renewLease() {
    const current = item();
    if (!current || !current.dataset.lease || !current.dataset.renewUrl) return;
    const body = new URLSearchParams({ lease: current.dataset.lease });
    fetch(current.dataset.renewUrl, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    }).then((response) => {
      if (response.status === 409) {
        response.text().then((message) => {
          const holder = item();
          if (!holder || holder.querySelector("[data-lease-lost]")) return;
          const notice = document.createElement("p");
          notice.className = "errors";
          notice.setAttribute("role", "alert");
          notice.dataset.leaseLost = "";
          notice.textContent = message;
          holder.prepend(notice);
        });
      }
    });
  }

  function scheduleRenewal() {
    const current = item();
    const lease = current && current.dataset.lease;
    if (lease === renewedLease) return;
    renewedLease = lease;
    if (renewTimer) clearInterval(renewTimer);
    renewTimer = null;
    const ttl = Number(current && current.dataset.leaseTtl);
    if (!lease || !ttl) return;
    renewTimer = setInterval(renewLease, Math.max(60, ttl / 3) * 1000);
  }

  scheduleRenewal();
  document.addEventListener("htmx:afterSettle", scheduleRenewal);
})();
