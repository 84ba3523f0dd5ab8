// roster portal: the few live parts of the pages, in plain JavaScript.
// - [data-live-url]: a status panel the server renders; fetched again every
//   second or two and swapped in when it changed, so a page never reloads.
// - [data-expr-test]: the live test of an attribute-mapping expression.
// - #mapping-type: shows the fields of the chosen mapping type only.
// - scoping operators that take no value disable their value field.
// - form[data-confirm]: asks before a destructive action.
// Every fetch says it is one (X-Portal-Fetch) and POSTs carry the session's CSRF
// token from <meta name="csrf-token">. Pages work without this file; it only
// adds liveness.
"use strict";

(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function startLive(panel) {
    var url = panel.getAttribute("data-live-url");
    var last = panel.innerHTML;
    var failures = 0;
    function tick() {
      fetch(url, { headers: { "X-Portal-Fetch": "1", Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401) {
            window.location.assign("/signin");
            throw new Error("signed out");
          }
          if (!r.ok) throw new Error("status " + r.status);
          return r.text();
        })
        .then(function (html) {
          failures = 0;
          if (html !== last) {
            var focused = document.activeElement && panel.contains(document.activeElement)
              ? document.activeElement.getAttribute("data-focus-key") : null;
            panel.innerHTML = html;
            last = html;
            if (focused) {
              var again = panel.querySelector('[data-focus-key="' + focused + '"]');
              if (again) again.focus();
            }
          }
          var running = panel.querySelector('[data-running="true"]');
          setTimeout(tick, running ? 700 : 2000);
        })
        .catch(function () {
          failures += 1;
          setTimeout(tick, Math.min(30000, 2000 * failures));
        });
    }
    setTimeout(tick, 700);
  }

  function startExpressionTest(button) {
    var out = document.querySelector("[data-expr-result]");
    button.addEventListener("click", function () {
      var expr = document.getElementById("expression");
      var user = document.getElementById("test-user");
      out.textContent = "Testing…";
      fetch(button.getAttribute("data-expr-test"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "X-Portal-Fetch": "1",
          "X-CSRF-Token": csrf(),
        },
        body: JSON.stringify({ expression: expr ? expr.value : "", user: user && user.value ? user.value : null }),
      })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          out.textContent = "";
          var p = document.createElement("p");
          var pre = document.createElement("pre");
          if (j.error) {
            p.className = "error";
            p.textContent = j.error.message;
            out.appendChild(p);
            return;
          }
          if (j.ok) {
            p.className = "notice ok";
            p.textContent = "Result for " + (j.user || "an empty user") + ":";
            pre.textContent = JSON.stringify(j.value, null, 2);
          } else {
            p.className = "notice bad";
            p.textContent = j.message;
            pre.textContent = j.rendered || "";
          }
          out.appendChild(p);
          if (pre.textContent) out.appendChild(pre);
        })
        .catch(function (e) { out.textContent = "The test could not run: " + e.message; });
    });
  }

  function startMappingType(select) {
    function show() {
      document.querySelectorAll("[data-for-type]").forEach(function (el) {
        var types = el.getAttribute("data-for-type").split(" ");
        el.hidden = types.indexOf(select.value) < 0;
      });
    }
    select.addEventListener("change", show);
    show();
  }

  // Scoping clauses: the value field of IS TRUE / IS FALSE / IS NULL / IS NOT NULL
  // is not used, so it is disabled while one of them is chosen.
  function startOperator(select) {
    var value = document.getElementById(select.id.replace(/\.operator$/, ".value"));
    if (!value) return;
    function sync() {
      value.disabled = /^IS (TRUE|FALSE|NULL|NOT NULL)$/.test(select.value);
    }
    select.addEventListener("change", sync);
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll('select[id$=".operator"]').forEach(startOperator);
    document.querySelectorAll("[data-live-url]").forEach(startLive);
    document.querySelectorAll("[data-expr-test]").forEach(startExpressionTest);
    var type = document.getElementById("mapping-type");
    if (type) startMappingType(type);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
  });
})();
