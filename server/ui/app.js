// @ts-check
/**
 * The console's shell: the API key, the API helpers every part uses, and the tabs.
 *
 * Each part is a module exporting `mount(container, ctx)` (and optionally `unmount()`); it is
 * mounted the first time its tab is shown. `ctx` is the same object for every part:
 *   api(path, init?)     → the parsed JSON answer (null for an empty one); a refusal throws an
 *                          ApiError carrying the server's `code` and `status`
 *   apiText(path, init?) → the answer as text (metrics, JSONL), refused the same way
 *   wsUrl()              → the URL of the server's WebSocket (/v1/ws)
 *   wsProtocols()        → the subprotocols to open it with: a browser cannot send the
 *                          Authorization header on a WebSocket, so the key travels as one
 *   openEpisode(id)      → switches to Trajectories and opens that episode there
 *
 * The key lives in sessionStorage (this tab only, gone when it closes) and travels in the
 * Authorization header, never in a URL.
 */

import { ApiError } from './api-error.js';

const KEY_STORAGE = 'hgym.api_key';
/** The subprotocol the server selects; the second one offered carries the key (docs/console.md). */
const WS_PROTOCOL = 'hgym.v1';
const WS_KEY_PREFIX = 'hgym.key.';

/** @typedef {{ id: string, title: string, module: string }} Tab */
/** @type {Tab[]} */
const TABS = [
  { id: 'play', title: 'Play', module: './play.js' },
  { id: 'trajectories', title: 'Trajectories', module: './trajectories.js' },
  { id: 'dashboard', title: 'Dashboard', module: './dashboard.js' },
];

function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? '';
}

/**
 * @param {RequestInit | undefined} init
 * @returns {RequestInit}
 */
function withAuth(init) {
  const headers = new Headers(init?.headers);
  const key = storedKey();
  if (key) headers.set('authorization', `Bearer ${key}`);
  if (init?.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  return { ...init, headers };
}

/**
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
async function refusal(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return new ApiError(body.message ?? text, body.code ?? 'HGYM_ERR_UNKNOWN', response.status);
  } catch {
    return new ApiError(text || response.statusText, 'HGYM_ERR_UNKNOWN', response.status);
  }
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function request(path, init) {
  const response = await fetch(path, withAuth(init));
  if (response.ok) return response;
  const err = await refusal(response);
  if (response.status === 401) askForKey('The server refused the key.');
  throw err;
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
async function api(path, init) {
  const text = await (await request(path, init)).text();
  return text === '' ? null : JSON.parse(text);
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<string>}
 */
async function apiText(path, init) {
  return (await request(path, init)).text();
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
}

/** The key as base64url: a subprotocol must be an HTTP token, which a key may not be. */
function wsProtocols() {
  const key = storedKey();
  if (!key) return [WS_PROTOCOL];
  const bytes = new TextEncoder().encode(key);
  const base64 = btoa(String.fromCharCode(...bytes));
  return [WS_PROTOCOL, WS_KEY_PREFIX + base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')];
}

/** @type {Map<string, { module?: any, mounted: Promise<any> }>} */
const parts = new Map();

/**
 * Mounts a tab's module the first time it is shown. A module that is missing or fails to
 * mount leaves a message in its tab; the other tabs keep working.
 * @param {Tab} tab
 */
function mountTab(tab) {
  const existing = parts.get(tab.id);
  if (existing) return existing.mounted;
  const container = /** @type {HTMLElement} */ (document.getElementById(`panel-${tab.id}`));
  const entry = { module: undefined, mounted: Promise.resolve() };
  entry.mounted = import(tab.module).then(
    async (module) => {
      entry.module = module;
      await module.mount(container, ctx);
      return module;
    },
    (err) => {
      const note = document.createElement('p');
      note.className = 'tab-error';
      note.textContent = `${tab.title} could not be loaded: ${err instanceof Error ? err.message : String(err)}`;
      container.replaceChildren(note);
      return undefined;
    },
  );
  parts.set(tab.id, entry);
  return entry.mounted;
}

/** @param {string} id */
function showTab(id) {
  const tab = TABS.find((t) => t.id === id) ?? TABS[0];
  for (const t of TABS) {
    const selected = t.id === tab.id;
    /** @type {HTMLElement} */ (document.getElementById(`panel-${t.id}`)).hidden = !selected;
    document.getElementById(`tab-${t.id}`)?.setAttribute('aria-selected', String(selected));
  }
  if (location.hash !== `#${tab.id}`) history.replaceState(null, '', `#${tab.id}`);
  return mountTab(tab);
}

/** @param {string} id */
async function openEpisode(id) {
  const trajectories = TABS.find((t) => t.id === 'trajectories');
  if (!trajectories) return;
  const module = await showTab(trajectories.id);
  if (typeof module?.open === 'function') await module.open(id);
}

const ctx = { api, apiText, wsUrl, wsProtocols, openEpisode };

/** @param {string} message */
function askForKey(message) {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('key-form'));
  const note = /** @type {HTMLElement} */ (document.getElementById('key-message'));
  note.textContent = message;
  form.hidden = false;
  /** @type {HTMLElement} */ (document.getElementById('console')).hidden = true;
  /** @type {HTMLInputElement} */ (form.elements.namedItem('key')).focus();
}

/**
 * Asks the server whether the stored credential (or none) is enough: /v1/tasks needs the key
 * whenever the server has one. Only then is the console shown and a part mounted.
 */
async function start() {
  try {
    await fetch('/v1/tasks', withAuth(undefined)).then(async (response) => {
      if (!response.ok) throw await refusal(response);
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      askForKey(storedKey() ? 'The server refused the key.' : 'This server needs its API key.');
      return;
    }
    throw err;
  }
  /** @type {HTMLElement} */ (document.getElementById('key-form')).hidden = true;
  /** @type {HTMLElement} */ (document.getElementById('console')).hidden = false;
  document.getElementById('sign-out')?.toggleAttribute('hidden', !storedKey());
  await showTab(location.hash.slice(1));
}

function wire() {
  const nav = /** @type {HTMLElement} */ (document.getElementById('tabs'));
  for (const tab of TABS) {
    const button = document.createElement('button');
    button.type = 'button';
    button.id = `tab-${tab.id}`;
    button.setAttribute('role', 'tab');
    button.setAttribute('aria-controls', `panel-${tab.id}`);
    button.textContent = tab.title;
    button.addEventListener('click', () => void showTab(tab.id));
    nav.append(button);
  }
  const form = /** @type {HTMLFormElement} */ (document.getElementById('key-form'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ (form.elements.namedItem('key'));
    sessionStorage.setItem(KEY_STORAGE, input.value);
    input.value = '';
    void start().catch(showFatal);
  });
  document.getElementById('sign-out')?.addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE);
    location.reload();
  });
}

/** @param {unknown} err */
function showFatal(err) {
  const note = /** @type {HTMLElement} */ (document.getElementById('fatal'));
  note.textContent = `The console could not start: ${err instanceof Error ? err.message : String(err)}`;
  note.hidden = false;
}

wire();
start().catch(showFatal);
