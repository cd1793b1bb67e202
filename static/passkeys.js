// Passkeys (WebAuthn): adding one on the account page and signing in with one on the second step. Progressive:
// the passkey forms stay hidden, and the page says passkeys need JavaScript, until this file shows them.
//
// Each ceremony: ask the server for options (POST, the form's CSRF token), turn their base64url fields into bytes,
// let the browser talk to the authenticator, put its answer (binary fields in base64url, as webauthn-rs reads them)
// into the form's hidden `credential` field, and submit the form as usual: the server answers with a page.
(function () {
  "use strict";

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials && window.fetch && window.URLSearchParams);
  }

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The server's options for this form, or an Error carrying the server's sentence.
  function fetchOptions(form) {
    var body = new URLSearchParams(new FormData(form));
    return fetch(form.getAttribute("data-options-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: body
    }).then(function (response) {
      return response.json().catch(function () {
        return { error: "The server's answer could not be read. Reload the page and try again." };
      }).then(function (json) {
        if (!response.ok || json.error) {
          throw new Error(json.error || "The server refused the request. Reload the page and try again.");
        }
        return json.publicKey;
      });
    });
  }

  // A sentence for what the browser or the authenticator said.
  function sentence(error, cancelled) {
    if (error && error.name === "NotAllowedError") return cancelled;
    if (error && error.name === "InvalidStateError") {
      return "This device already holds a passkey for your account here; nothing was added.";
    }
    if (error && error.name === "SecurityError") {
      return "The browser refused: this page's address does not match the console's public address (STOREDESK_PUBLIC_URL).";
    }
    return (error && error.message) || "Something went wrong. Reload the page and try again.";
  }

  function setUp(form, run, cancelled) {
    var needsJs = document.getElementById(form.getAttribute("data-needs-js"));
    var error = form.querySelector(".passkey-error");
    var button = form.querySelector("button[type=submit]");
    var field = form.querySelector("input[name=credential]");
    if (!supported()) {
      if (needsJs) needsJs.textContent = needsJs.getAttribute("data-unsupported");
      return;
    }
    form.hidden = false;
    if (needsJs) needsJs.hidden = true;
    form.addEventListener("submit", function (event) {
      if (field.value) return; // the browser's answer is in: the form goes to the server
      event.preventDefault();
      error.hidden = true;
      button.disabled = true;
      fetchOptions(form)
        .then(run)
        .then(function (answer) {
          field.value = JSON.stringify(answer);
          form.submit();
        })
        .catch(function (e) {
          button.disabled = false;
          error.textContent = sentence(e, cancelled);
          error.hidden = false;
          error.focus();
        });
    });
  }

  function register(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return navigator.credentials.create({ publicKey: options }).then(function (credential) {
      var extensions = credential.getClientExtensionResults ? credential.getClientExtensionResults() : {};
      var response = credential.response;
      return {
        id: credential.id,
        rawId: toBase64url(credential.rawId),
        type: credential.type,
        response: {
          attestationObject: toBase64url(response.attestationObject),
          clientDataJSON: toBase64url(response.clientDataJSON),
          transports: response.getTransports ? response.getTransports() : null
        },
        extensions: extensions.credProps ? { credProps: extensions.credProps } : {}
      };
    });
  }

  function authenticate(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return navigator.credentials.get({ publicKey: options }).then(function (credential) {
      var response = credential.response;
      return {
        id: credential.id,
        rawId: toBase64url(credential.rawId),
        type: credential.type,
        response: {
          authenticatorData: toBase64url(response.authenticatorData),
          clientDataJSON: toBase64url(response.clientDataJSON),
          signature: toBase64url(response.signature),
          userHandle: response.userHandle ? toBase64url(response.userHandle) : null
        },
        extensions: {}
      };
    });
  }

  var add = document.getElementById("passkey-add");
  if (add) {
    setUp(add, register, "No passkey was made: the request was cancelled or took too long. Nothing was added.");
  }
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    setUp(signIn, authenticate, "No passkey was used: the request was cancelled or took too long. Try again, or type a code.");
  }
})();
