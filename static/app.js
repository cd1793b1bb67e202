// Enhancements only: every page works without this file.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.copy");
  if (!button) return;
  var target = document.getElementById(button.getAttribute("data-copy"));
  if (!target || !navigator.clipboard) return;
  navigator.clipboard.writeText(target.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});

// The test notification light: polls its status every 2 s until it arrives. Without JS, the Refresh link does it.
(function () {
  var light = document.getElementById("test-light");
  if (!light || !window.fetch) return;
  var url = light.getAttribute("data-status-url");
  var badge = document.getElementById("test-light-badge");
  var message = document.getElementById("test-light-message");
  var list = document.getElementById("test-attempts");
  var note = document.getElementById("test-note");
  function show(s) {
    badge.className = "badge " + s.badge;
    badge.textContent = s.state;
    message.textContent = s.message;
    light.setAttribute("data-state", s.state);
    if (list) {
      while (list.firstChild) list.removeChild(list.firstChild);
      s.attempts.forEach(function (a) {
        var li = document.createElement("li");
        var b = document.createElement("span");
        b.className = "badge " + (a.ok ? "badge-good" : "badge-bad");
        b.textContent = a.result;
        li.appendChild(b);
        li.appendChild(document.createTextNode(" " + a.at + ": " + a.words));
        list.appendChild(li);
      });
    }
    if (note) note.textContent = s.note || "";
  }
  function poll() {
    if (light.getAttribute("data-state") === "arrived") return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) show(s); })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();

// An extension for all customers in progress: the page reloads every 10 s to show Apple's progress. Without JS,
// "Ask Apple now" or a reload does it.
(function () {
  var card = document.getElementById("mass-extension");
  if (!card || card.getAttribute("data-follow") !== "yes") return;
  setTimeout(function () { window.location.reload(); }, 10000);
})();

// A list that fills other fields (the project form's apps from App Store Connect): choosing an option copies its
// data-<field> values into those fields, so the person sees what will be saved. Without JS the server does it.
(function () {
  var lists = document.querySelectorAll("select[data-fills]");
  Array.prototype.forEach.call(lists, function (select) {
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      if (!option || !option.value) return;
      select.getAttribute("data-fills").split(" ").forEach(function (id) {
        var field = document.getElementById(id);
        var value = option.getAttribute("data-" + id);
        if (field && value !== null) field.value = value;
      });
    });
  });
})();

// The promotional-offer form with a catalog: the offer select shows only the chosen subscription's offers. Without
// JS every offer is listed under its subscription's name, and the server refuses an offer of another one.
(function () {
  var offers = document.querySelector("select[data-offers-of]");
  if (!offers) return;
  var product = document.getElementById(offers.getAttribute("data-offers-of"));
  if (!product) return;
  function narrow() {
    var groups = offers.querySelectorAll("optgroup[data-product]");
    for (var i = 0; i < groups.length; i++) {
      var mine = groups[i].getAttribute("data-product") === product.value;
      groups[i].hidden = !mine;
      groups[i].disabled = !mine;
    }
    var chosen = offers.options[offers.selectedIndex];
    if (chosen && chosen.parentNode.disabled) offers.value = "";
  }
  product.addEventListener("change", narrow);
  narrow();
})();
