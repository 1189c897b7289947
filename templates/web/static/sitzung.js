// Warns before a session ends for lack of use and extends it with one
// action (WCAG 2.2.1 Timing Adjustable): the warning comes
// `data-sitzung-warnung` seconds before the end (120 by default, at least
// 20 to react); "Sitzung verlängern" asks the server once, which counts as
// use; any htmx request restarts the count. No limit on extensions.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-sitzung-sekunden") || "0", 10);
  var lead = parseInt(body.getAttribute("data-sitzung-warnung") || "0", 10);
  var dialog = document.getElementById("sitzung-warnung");
  if (!idle || !lead || !dialog || typeof dialog.showModal !== "function") {
    return;
  }
  // A warning as long as the session itself would never go away.
  lead = Math.min(lead, idle - 5);
  var rest = document.getElementById("sitzung-rest");
  var extend = document.getElementById("sitzung-verlaengern");
  var active = document.getElementById("sitzung-aktiv");
  var over = document.getElementById("sitzung-abgelaufen");
  var warnTimer = 0, endTimer = 0, tick = 0, endsAt = 0;

  function words(seconds) {
    if (seconds >= 120) {
      return Math.ceil(seconds / 60) + " Minuten";
    }
    return seconds + (seconds === 1 ? " Sekunde" : " Sekunden");
  }
  function update() {
    rest.textContent = words(Math.max(0, Math.round((endsAt - Date.now()) / 1000)));
  }
  function arm() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    clearInterval(tick);
    endsAt = Date.now() + idle * 1000;
    warnTimer = setTimeout(warn, Math.max(0, idle - lead) * 1000);
    endTimer = setTimeout(expired, idle * 1000);
  }
  function warn() {
    update();
    // Screen readers hear the remaining time once, not every second.
    tick = setInterval(update, 15000);
    if (!dialog.open) {
      dialog.showModal();
    }
    extend.focus();
  }
  function expired() {
    clearInterval(tick);
    active.hidden = true;
    over.hidden = false;
    if (!dialog.open) {
      dialog.showModal();
    }
    over.querySelector("a").focus();
  }
  extend.addEventListener("click", function () {
    fetch("/api/v1/session", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.ok) {
          dialog.close();
          arm();
        } else {
          expired();
        }
      })
      .catch(expired);
  });
  body.addEventListener("htmx:afterRequest", arm);
  arm();
})();
