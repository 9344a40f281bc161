/* personvern's cookie banner for the company's website (ekomloven § 2-7b): embed with one script tag,
 *   <script src="https://PERSONVERN-HOST/consent.js" defer></script>
 * It finds personvern from its own src, shows the categories of the policy's [cookies] section, records the
 * choice (POST /api/v1/public/cookie-consents), keeps it in the first-party cookie pv_consent (strictly
 * necessary) and only then turns <script type="text/plain" data-cookie-category="CATEGORY"> elements of the
 * categories consented to into real scripts. Global Privacy Control refuses every optional category, with no
 * banner. It asks again when the categories change. On a refusal it deletes the cookies the policy names for
 * the category, and those its scripts declare (data-cookies="name other"). Any element with data-personvern-consent-open, and
 * window.personvernConsent.open(), reopen it. No dependencies, no inline script or style (a strict CSP works). */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.personvernConsent) return;
  var base = script.src.replace(/\/consent\.js(\?.*)?$/, "");
  var COOKIE = "pv_consent";
  var TEXTS = {
    nb: {
      title: "Informasjonskapsler",
      accept: "Godta alle",
      reject: "Avvis alle",
      choose: "Velg selv",
      save: "Lagre valgene",
      close: "Lukk",
      legend: "Velg hvilke informasjonskapsler vi kan bruke",
      always: "alltid på",
      cookies: "Informasjonskapsler",
      gpc: "Nettleseren din sender Global Privacy Control. Vi behandler det som et nei til alle valgfrie informasjonskapsler.",
      failed: "Valget ble ikke lagret. Prøv igjen."
    },
    en: {
      title: "Cookies",
      accept: "Accept all",
      reject: "Reject all",
      choose: "Choose",
      save: "Save my choices",
      close: "Close",
      legend: "Choose which cookies we may use",
      always: "always on",
      cookies: "Cookies",
      gpc: "Your browser sends Global Privacy Control. We treat it as a no to every optional cookie.",
      failed: "Your choice was not saved. Please try again."
    }
  };
  var pageLang = (script.getAttribute("data-lang") || document.documentElement.lang || "nb").toLowerCase();
  var lang = pageLang.indexOf("en") === 0 ? "en" : "nb";
  var t = TEXTS[lang];
  var gpc = navigator.globalPrivacyControl === true;
  var state = { banner: null, stored: readStored(), root: null, returnTo: null };

  function readStored() {
    var found = document.cookie.match(/(?:^|;\s*)pv_consent=([^;]*)/);
    if (!found) return null;
    try {
      var value = JSON.parse(decodeURIComponent(found[1]));
      return value && typeof value === "object" && value.c && typeof value.c === "object" ? value : null;
    } catch (e) {
      return null;
    }
  }

  function writeStored(value, days) {
    document.cookie = COOKIE + "=" + encodeURIComponent(JSON.stringify(value)) + "; path=/; max-age=" +
      String(days * 86400) + "; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  }

  function newVisitor() {
    // 128 random bits, base64url (22 characters): pseudonymous, derived from nothing about the visitor.
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function optional() {
    return state.banner.categories.filter(function (c) { return !c.necessary; });
  }

  function allOptional(value) {
    var choices = {};
    state.banner.categories.forEach(function (c) { choices[c.name] = c.necessary ? true : value; });
    return choices;
  }

  function activate(choices) {
    // Optional scripts run only now, after consent: until then the browser treats them as plain text.
    var waiting = document.querySelectorAll('script[type="text/plain"][data-cookie-category]');
    Array.prototype.forEach.call(waiting, function (old) {
      if (choices[old.getAttribute("data-cookie-category")] !== true || old.hasAttribute("data-activated")) return;
      var fresh = document.createElement("script");
      Array.prototype.forEach.call(old.attributes, function (a) {
        if (a.name !== "type" && a.name !== "data-cookie-category") fresh.setAttribute(a.name, a.value);
      });
      if (!old.src) fresh.text = old.text;
      old.setAttribute("data-activated", "");
      old.parentNode.insertBefore(fresh, old.nextSibling);
    });
  }

  function forget(choices) {
    // Consent withdrawn is as easy as given (GDPR Art. 7(3)): the cookies of refused categories go now, those
    // the policy names and those a script of the category declares in data-cookies="name other".
    var host = location.hostname;
    var domains = ["", host, "." + host, "." + host.split(".").slice(-2).join(".")];
    state.banner.categories.forEach(function (c) {
      if (c.necessary || choices[c.name] === true) return;
      var names = c.cookies.map(function (k) { return k.name; });
      var scripts = document.querySelectorAll("script[data-cookie-category][data-cookies]");
      Array.prototype.forEach.call(scripts, function (el) {
        if (el.getAttribute("data-cookie-category") === c.name) {
          names = names.concat(el.getAttribute("data-cookies").split(/[\s,]+/).filter(Boolean));
        }
      });
      names.forEach(function (name) {
        domains.forEach(function (d) {
          document.cookie = name + "=; path=/; max-age=0" + (d ? "; domain=" + d : "");
        });
      });
    });
  }

  function record(method, choices) {
    var visitor = state.stored && typeof state.stored.v === "string" ? state.stored.v : newVisitor();
    return fetch(base + "/api/v1/public/cookie-consents", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        visitor: visitor, choices: choices, banner_version: state.banner.version, method: method
      })
    }).then(function (response) {
      if (response.status === 409) {
        // The categories changed while the banner was open: show the new ones and ask again.
        return load().then(function () { show(); });
      }
      if (!response.ok) throw new Error("not recorded: " + response.status);
      return response.json().then(function (saved) {
        state.stored = { v: visitor, ver: saved.banner_version, c: saved.choices, m: saved.method };
        writeStored(state.stored, state.banner.remember_days);
        forget(saved.choices);
        if (!gpc && saved.method !== "gpc") activate(saved.choices);
        close();
      });
    });
  }

  function element(tag, attributes, text) {
    var el = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { el.setAttribute(name, attributes[name]); });
    if (text) el.textContent = text;
    return el;
  }

  function build() {
    var b = state.banner;
    var root = element("div", { id: "pv-consent", class: "pv-consent", role: "region", "aria-labelledby": "pv-consent-title", lang: lang });
    var title = element("h2", { id: "pv-consent-title", tabindex: "-1" }, t.title);
    root.appendChild(title);
    root.appendChild(element("p", {}, b.text));
    var status = element("p", { class: "pv-consent-status", role: "status" });
    var details = element("div", { id: "pv-consent-details", class: "pv-consent-details" });
    details.hidden = !gpc;
    var fieldset = element("fieldset");
    fieldset.appendChild(element("legend", {}, t.legend));
    b.categories.forEach(function (c) {
      var row = element("div", { class: "pv-consent-category" });
      var id = "pv-consent-" + c.name;
      var box = element("input", { type: "checkbox", id: id, name: c.name, "aria-describedby": id + "-about" });
      var stored = state.stored && state.stored.ver === b.version ? state.stored.c : {};
      box.checked = c.necessary || (!gpc && stored[c.name] === true);
      box.disabled = c.necessary || gpc;
      row.appendChild(box);
      row.appendChild(element("label", { for: id }, c.label + (c.necessary ? " (" + t.always + ")" : "")));
      var about = element("p", { id: id + "-about" }, c.description + " " + t.cookies + ": " +
        c.cookies.map(function (k) { return k.name + " (" + k.provider + ", " + k.expiry + ")"; }).join(", ") + ".");
      row.appendChild(about);
      fieldset.appendChild(row);
    });
    details.appendChild(fieldset);
    var actions = element("div", { class: "pv-consent-actions" });
    function button(label, action) {
      var el = element("button", { type: "button", class: "pv-consent-button", "data-action": action }, label);
      actions.appendChild(el);
      return el;
    }
    if (gpc) {
      root.appendChild(element("p", { class: "pv-consent-gpc" }, t.gpc));
      root.appendChild(details);
      button(t.close, "close");
    } else {
      // The same element and the same style for every choice: refusing is as easy as accepting (§ 2-7b).
      button(t.accept, "accept_all");
      button(t.reject, "reject_all");
      var choose = button(t.choose, "choose");
      choose.setAttribute("aria-expanded", "false");
      choose.setAttribute("aria-controls", "pv-consent-details");
      var save = element("button", { type: "button", class: "pv-consent-button", "data-action": "custom" }, t.save);
      details.appendChild(save);
      root.appendChild(details);
    }
    root.appendChild(actions);
    root.appendChild(status);
    root.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("button[data-action]") : null;
      if (!target) return;
      var action = target.getAttribute("data-action");
      if (action === "close") return close();
      if (action === "choose") {
        details.hidden = !details.hidden;
        target.setAttribute("aria-expanded", String(!details.hidden));
        if (!details.hidden) {
          var first = details.querySelector("input:not([disabled])");
          if (first) first.focus();
        }
        return;
      }
      var choices = allOptional(action === "accept_all");
      if (action === "custom") {
        optional().forEach(function (c) { choices[c.name] = document.getElementById("pv-consent-" + c.name).checked; });
      }
      status.textContent = "";
      record(action, choices).catch(function () { status.textContent = t.failed; });
    });
    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !details.hidden && !gpc) {
        details.hidden = true;
        var toggle = root.querySelector('[data-action="choose"]');
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
    return root;
  }

  function show() {
    if (!state.banner) return;
    if (state.root) state.root.remove();
    if (!state.returnTo && document.activeElement && document.activeElement !== document.body) {
      state.returnTo = document.activeElement;
    }
    state.root = build();
    document.body.appendChild(state.root);
    state.root.querySelector("h2").focus();
  }

  function close() {
    if (state.root) state.root.remove();
    state.root = null;
    if (state.returnTo && document.contains(state.returnTo)) state.returnTo.focus();
    state.returnTo = null;
  }

  function load() {
    return fetch(base + "/api/v1/public/cookie-categories?lang=" + lang, { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("no banner: " + response.status);
        return response.json();
      })
      .then(function (banner) { state.banner = banner; });
  }

  function start() {
    load().then(function () {
      var s = state.stored;
      var current = s && s.ver === state.banner.version;
      if (gpc) {
        // The browser has said no for the visitor: record that once, show nothing, run nothing optional.
        if (!(current && s.m === "gpc")) return record("gpc", allOptional(false));
        return;
      }
      if (current) activate(s.c);
      else show();
    }).catch(function () { /* no banner, and so nothing optional runs */ });
  }

  function open(event) {
    if (event && event.preventDefault) event.preventDefault();
    state.returnTo = document.activeElement && document.activeElement !== document.body ? document.activeElement : null;
    if (state.banner) show();
    else load().then(show);
  }

  window.personvernConsent = {
    open: open,
    choices: function () { return state.stored && state.banner && state.stored.ver === state.banner.version ? state.stored.c : null; }
  };

  function ready() {
    var style = element("link", { rel: "stylesheet", href: base + "/static/consent.css" });
    document.head.appendChild(style);
    Array.prototype.forEach.call(document.querySelectorAll("[data-personvern-consent-open]"), function (el) {
      el.addEventListener("click", open);
    });
    start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
