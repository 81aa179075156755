// Nudge operator console: the only script (no inline script is allowed by the page's policy).
// Asks before destructive forms, and copies a new token's secret to the clipboard.
"use strict";
document.addEventListener("submit", (e) => {
  const message = e.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) e.preventDefault();
});
document.addEventListener("click", (e) => {
  const id = e.target.getAttribute && e.target.getAttribute("data-copy");
  if (!id) return;
  const el = document.getElementById(id);
  if (el && navigator.clipboard) navigator.clipboard.writeText(el.textContent);
});
