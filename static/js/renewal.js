// Renewal progress: poll the token's renewal state while a renewal is queued or
// running, show each step, and reload the page once it settles to show the outcome.
(function () {
  "use strict";

  var INTERVAL_MS = 1000;
  var MAX_POLLS = 120;
  var LABELS = {
    queued: "Renewal queued: waiting for a worker…",
    running: "Renewing with Jira…"
  };

  var line = document.getElementById("renewal-progress");
  if (!line || !line.dataset.url || line.dataset.state === "idle") return;

  var polls = 0;
  var busy = false;

  function show(state) {
    line.dataset.state = state;
    if (LABELS[state]) line.textContent = LABELS[state];
  }

  function stop(message) {
    clearInterval(timer);
    line.classList.remove("busy");
    if (message) line.textContent = message;
  }

  function poll() {
    if (busy) return;
    busy = true;
    polls += 1;
    fetch(line.dataset.url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (state) {
        show(state.renewal);
        if (state.renewal === "idle") {
          stop("Renewal finished: " + state.status_display + ". Reloading…");
          window.location.reload();
        } else if (polls >= MAX_POLLS) {
          stop("The renewal is still waiting. Reload the page later to see its outcome.");
        }
      })
      .catch(function () {
        stop("Could not read the renewal's progress. Reload the page to see it.");
      })
      .finally(function () { busy = false; });
  }

  line.classList.add("busy");
  var timer = setInterval(poll, INTERVAL_MS);
  poll();
})();
