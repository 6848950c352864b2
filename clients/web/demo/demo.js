// The demo page: the reference client in use, on another origin than the API (CORS for real).
// Everything shown goes through textContent: nothing from the network becomes markup.
import { ApiError, NetworkError, createClient, verifyToken } from "../telephone-status.js";

const DEFAULT_API = "http://127.0.0.1:3000";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** The page's settings: config.json from the demo server, then `?api=` wins. */
async function loadConfig() {
  /** @type {{apiBase?: string, inbox?: string | null, sandboxInbox?: string | null}} */
  let config = {};
  try {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (response.ok) config = await response.json();
  } catch {
    config = {}; // served by some other static server: defaults below
  }
  const override = new URLSearchParams(location.search).get("api");
  let apiBase = config.apiBase || DEFAULT_API;
  if (override) {
    const url = new URL(override);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("api must be http(s)");
    apiBase = url.href;
  }
  return { apiBase, inbox: config.inbox ?? null, sandboxInbox: config.sandboxInbox ?? null };
}

/**
 * @param {HTMLElement} list a <dl>
 * @param {[string, unknown][]} rows
 */
function showRows(list, rows) {
  list.replaceChildren();
  for (const [name, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value === null || value === undefined ? "null" : String(value);
    dd.dataset.field = name;
    list.append(dt, dd);
  }
  list.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error-fields").replaceChildren();
}

/** @param {unknown} error */
function showError(error) {
  const section = $("error");
  if (error instanceof ApiError) {
    $("error-title").textContent = `${error.status} ${error.code ?? "unexpected response"}`;
    /** @type {[string, unknown][]} */
    const rows = [
      ["code", error.code],
      ["status", error.status],
      ["title", error.title],
      ["detail", error.detail],
    ];
    if (error.attemptsRemaining !== null) rows.push(["attemptsRemaining", error.attemptsRemaining]);
    if (error.retryAfter !== null) rows.push(["retryAfter", `${error.retryAfter} s`]);
    for (const field of error.errors) rows.push([`error: ${field.field}`, field.message]);
    rows.push(["requestId", error.requestId]);
    showRows($("error-fields"), rows);
  } else if (error instanceof NetworkError) {
    $("error-title").textContent = "No response (network failure or CORS refusal)";
    showRows($("error-fields"), [
      ["kind", "NETWORK_OR_CORS"],
      ["what happened", "the browser gave this page no answer to read"],
      ["if the API is up", `is ${location.origin} in the API's CORS_ALLOW_ORIGINS?`],
    ]);
  } else {
    $("error-title").textContent = "Unexpected error";
    showRows($("error-fields"), [["message", error instanceof Error ? error.message : String(error)]]);
  }
  section.hidden = false;
  document.body.dataset.state = error instanceof NetworkError ? "network-error" : "error";
}

/** @type {number | undefined} */
let countdownTimer;

/** @param {number} seconds e.g. 86399 -> "23:59:59" */
function clock(seconds) {
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${Math.floor(seconds / 3600)}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}`;
}

/**
 * The live countdown of a 429's Retry-After; the button that led there waits for it.
 * @param {number} seconds
 * @param {HTMLButtonElement} button
 */
function startCountdown(seconds, button) {
  clearInterval(countdownTimer);
  const until = Date.now() + seconds * 1000;
  $("retry-after").textContent = String(seconds);
  const tick = () => {
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    $("retry-left").textContent = String(left);
    $("retry-left-clock").textContent = left >= 60 ? `(${clock(left)})` : "";
    if (left === 0) {
      clearInterval(countdownTimer);
      $("countdown").hidden = true;
      button.disabled = false;
    }
  };
  button.disabled = true;
  $("countdown").hidden = false;
  tick();
  countdownTimer = window.setInterval(tick, 250);
}

/**
 * The newest message's PIN from the sandbox inbox. The inbox answers JSON, newest first:
 * a list (or `{messages: [...]}`) of messages carrying the PIN as `pin` or `code`, or in a text.
 * @param {unknown} document
 * @returns {string | null}
 */
function newestPin(document) {
  const doc = /** @type {any} */ (document);
  const messages = Array.isArray(doc) ? doc : Array.isArray(doc?.messages) ? doc.messages : [];
  const newest = messages[0];
  if (newest === null || typeof newest !== "object") return null;
  for (const name of ["pin", "code"]) {
    if (typeof newest[name] === "string" || typeof newest[name] === "number") return String(newest[name]);
  }
  for (const name of ["text", "body", "message"]) {
    const found = typeof newest[name] === "string" ? newest[name].match(/\b[1-9][0-9]{2,4}\b/) : null;
    if (found) return found[0];
  }
  return null;
}

async function main() {
  const config = await loadConfig();
  const api = createClient(config.apiBase);
  $("api-base").textContent = api.baseUrl;
  $("page-origin").textContent = location.origin;

  const channelInputs = /** @type {NodeListOf<HTMLInputElement>} */ (
    document.querySelectorAll('input[name="channel"]')
  );
  const selectedChannel = () =>
    /** @type {"sms" | "call"} */ ([...channelInputs].find((i) => i.checked)?.value ?? "sms");
  for (const input of channelInputs) {
    input.addEventListener("change", () => {
      $("locale-label").hidden = selectedChannel() !== "call";
    });
  }

  const startButton = /** @type {HTMLButtonElement} */ ($("start-button"));
  const checkButton = /** @type {HTMLButtonElement} */ ($("check-button"));
  const phoneInput = /** @type {HTMLInputElement} */ ($("phone"));
  const referenceInput = /** @type {HTMLInputElement} */ ($("reference"));
  const pinInput = /** @type {HTMLInputElement} */ ($("pin"));

  $("start-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const phoneNumber = phoneInput.value.trim();
    const channel = selectedChannel();
    const locale = channel === "call" ? /** @type {HTMLSelectElement} */ ($("locale")).value : undefined;
    try {
      const started = await api.startVerification(phoneNumber, channel, locale ? { locale } : {});
      showRows($("start-result"), [
        ["referenceId", started.referenceId],
        ["channel", started.channel],
        ["phoneNumber", started.phoneNumber],
        ["expiresAt", started.expiresAt],
        ["resendAfter", started.resendAfter],
        ["sendsRemaining", started.sendsRemaining],
      ]);
      referenceInput.value = started.referenceId;
      // A new verification: what was shown for an earlier one no longer applies.
      $("status-result").hidden = true;
      $("token-section").hidden = true;
      const link = /** @type {HTMLAnchorElement} */ ($("inbox-link"));
      const query = new URLSearchParams({ phoneNumber });
      link.textContent = config.sandboxInbox ? `${config.sandboxInbox}?${query}` : "(no sandbox: a real upstream)";
      if (config.sandboxInbox) link.href = `${config.sandboxInbox}?${query}`;
      $("inbox-button").hidden = !config.inbox;
      $("inbox-hint").hidden = false;
      $("inbox-note").textContent = "";
      document.body.dataset.state = "started";
      pinInput.focus();
    } catch (error) {
      showError(error);
      if (error instanceof ApiError && error.status === 429 && error.retryAfter !== null) {
        startCountdown(error.retryAfter, startButton);
      }
    }
  });

  $("inbox-button").addEventListener("click", async () => {
    const note = $("inbox-note");
    if (!config.inbox) return;
    note.textContent = ""; // a new answer replaces the last one (tests wait for it)
    const query = new URLSearchParams({ phoneNumber: phoneInput.value.trim() });
    try {
      const response = await fetch(`${config.inbox}?${query}`, { cache: "no-store" });
      const pin = response.ok ? newestPin(await response.json()) : null;
      if (pin === null) {
        note.textContent = `no message found (inbox answered ${response.status})`;
        return;
      }
      // Like a phone's one-time-code autofill: into the field, not onto the page.
      pinInput.value = pin;
      note.textContent = "PIN filled in from the newest message.";
    } catch {
      note.textContent = "the sandbox inbox could not be read";
    }
  });

  /** @param {import("../telephone-status.js").StatusResult} result */
  async function showResult(result) {
    showRows($("status-result"), [
      ["referenceId", result.referenceId],
      ["status", `${result.status.code} ${result.status.channel} ${result.status.state}`],
      ["description", result.status.description],
      ["final", result.status.final],
      ["codeValid", result.codeValid],
      ["attemptsRemaining", result.attemptsRemaining],
    ]);
    if (result.verification) {
      await showToken(result.verification.token);
    } else {
      $("token-section").hidden = true;
    }
  }

  /** @param {string} token */
  async function showToken(token) {
    $("token").textContent = token;
    $("token-section").hidden = false;
    const verdict = $("token-verdict");
    verdict.className = "";
    verdict.textContent = `Verifying the ES256 signature with WebCrypto against ${api.keySetUrl} …`;
    const check = await verifyToken(token, api.keySetUrl);
    $("token-claims").textContent = JSON.stringify({ header: check.header, claims: check.claims }, null, 2);
    verdict.className = check.verified ? "ok" : "bad";
    verdict.textContent = check.verified
      ? `Signature verified with WebCrypto (ES256, kid ${check.kid}) against ${api.keySetUrl}; not expired.`
      : `NOT verified: ${check.reason}`;
    verdict.dataset.verified = String(check.verified);
  }

  $("check-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const code = pinInput.value.trim();
    // The PIN has no business staying on screen once sent.
    pinInput.value = "";
    try {
      const result = await api.checkCode(referenceInput.value.trim(), code);
      await showResult(result);
      document.body.dataset.state = result.codeValid ? "verified" : "checked";
    } catch (error) {
      $("status-result").hidden = true;
      $("token-section").hidden = true;
      showError(error);
      if (error instanceof ApiError && error.status === 429) {
        if (error.retryAfter !== null) {
          startCountdown(error.retryAfter, checkButton);
          document.body.dataset.state = "locked";
        } else {
          $("error-title").textContent += " (Retry-After not readable by this page)";
        }
      }
    }
  });

  $("status-button").addEventListener("click", async () => {
    clearError();
    try {
      await showResult(await api.getStatus(referenceInput.value.trim()));
      document.body.dataset.state = "status";
    } catch (error) {
      $("status-result").hidden = true;
      showError(error);
    }
  });

  const presetReference = new URLSearchParams(location.search).get("referenceId");
  if (presetReference) referenceInput.value = presetReference;
  document.body.dataset.state = "ready";
}

main().catch((error) => {
  showError(error);
});
