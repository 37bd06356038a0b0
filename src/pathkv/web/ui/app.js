// pathkv's dashboard: the HTTP API, in a page. No framework, no build step: this file is
// served as it is, under a Content-Security-Policy that allows only this origin.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "pathkv.token";
// The service's base path: the page lives at <base>/-/ui/ (a proxy may mount it deeper).
const BASE = location.pathname.replace(/\/-\/ui\/.*$/, "");

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  folder: "/",
  search: null, // a prefix being searched (flat listing), or null while browsing levels
  next: null,
  open: null, // the metadata of the document in the editor (null: a new document)
  dirty: false,
  ttlLeft: null,
  feed: null,
};

// ---------------------------------------------------------------- the API

function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

async function api(method, target, options = {}) {
  const headers = { accept: "application/json", ...(options.headers || {}) };
  if (state.token) headers.authorization = "Bearer " + state.token;
  let url = BASE + target;
  if (options.query) url += "?" + new URLSearchParams(options.query);
  const init = { method, headers, cache: "no-store" };
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    say("cannot reach pathkv: " + error.message);
    throw error;
  }
  if (response.status === 401) askForToken("This pathkv asks for a token.");
  return response;
}

async function problemOf(response) {
  try {
    const problem = await response.json();
    return problem.detail || problem.title || response.statusText;
  } catch {
    return response.status + " " + response.statusText;
  }
}

let statusTimer = null;
function say(text) {
  $("status").textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { $("status").textContent = ""; }, 4000);
}

// ---------------------------------------------------------------- signing in

function showAccount() {
  $("who").textContent = state.token ? "signed in" : "anonymous";
  $("sign-in").hidden = Boolean(state.token);
  $("sign-out").hidden = !state.token;
}

function askForToken(why) {
  const dialog = $("sign-in-dialog");
  $("sign-in-why").textContent = why || "";
  if (!dialog.open) dialog.showModal();
  $("token").focus();
}

function signIn(token) {
  state.token = token || null;
  if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
  else sessionStorage.removeItem(TOKEN_KEY);
  showAccount();
  closeDocument();
  refreshAll();
}

// ---------------------------------------------------------------- browsing

function showCrumbs() {
  const crumbs = $("crumbs");
  crumbs.replaceChildren();
  const parts = state.folder.split("/").filter(Boolean);
  let at = "/";
  const add = (label, folder) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", () => browse(folder));
    crumbs.append(button);
  };
  add("/", "/");
  for (const part of parts) {
    at += part + "/";
    add(part + "/", at);
  }
  if (state.search !== null) {
    const note = document.createElement("span");
    note.className = "hint";
    note.textContent = "search: " + state.search;
    crumbs.append(note);
  }
}

function entryButton(path, folder) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = folder ? "folder" : "doc";
  button.dataset.path = path;
  const shown = state.search !== null ? path : path.slice(state.folder.length);
  button.textContent = shown || path;
  if (state.open && state.open.path === path) button.setAttribute("aria-current", "true");
  button.addEventListener("click", () => (folder ? browse(path) : openDocument(path)));
  item.append(button);
  return item;
}

async function loadEntries(append) {
  const query = state.search !== null
    ? { prefix: state.search }
    : { prefix: state.folder, delimiter: "/" };
  if (append && state.next) query.after = state.next;
  const response = await api("GET", "/-/keys", { query });
  if (!response.ok) {
    if (response.status !== 401) say(await problemOf(response));
    if (!append) $("entries").replaceChildren();
    $("more").hidden = true;
    return;
  }
  const page = await response.json();
  const entries = [
    ...(page.prefixes || []).map((path) => [path, true]),
    ...page.items.map((item) => [item.path, false]),
  ].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const list = $("entries");
  if (!append) list.replaceChildren();
  for (const [path, folder] of entries) list.append(entryButton(path, folder));
  if (!append && entries.length === 0) {
    const empty = document.createElement("li");
    empty.className = "hint";
    empty.textContent = "(nothing here)";
    list.append(empty);
  }
  state.next = page.next;
  $("more").hidden = !page.next;
}

function browse(folder) {
  state.folder = folder.endsWith("/") ? folder : folder + "/";
  state.search = null;
  state.next = null;
  showCrumbs();
  loadEntries(false);
}

function search(prefix) {
  if (!prefix) return browse("/");
  if (!prefix.startsWith("/")) prefix = "/" + prefix;
  if (prefix.endsWith("/")) return browse(prefix);
  state.search = prefix;
  state.next = null;
  showCrumbs();
  loadEntries(false);
}

// ---------------------------------------------------------------- one document

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds <= 0) return "expired";
  const units = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];
  const parts = [];
  let left = seconds;
  for (const [unit, size] of units) {
    if (left >= size || (unit === "s" && parts.length === 0)) {
      parts.push(Math.floor(left / size) + unit);
      left %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

function showMeta(meta) {
  $("meta-etag").textContent = meta ? meta.etag : "-";
  $("meta-version").textContent = meta ? String(meta.version) : "-";
  $("meta-hits").textContent = meta ? String(meta.hits) : "-";
  $("meta-updated").textContent = meta
    ? new Date(meta.last_updated * 1000).toLocaleString()
    : "-";
  state.ttlLeft = meta ? meta.ttl : null;
  $("meta-ttl").textContent = formatSeconds(state.ttlLeft);
}

setInterval(() => {
  if (state.ttlLeft === null) return;
  state.ttlLeft = Math.max(0, state.ttlLeft - 1);
  $("meta-ttl").textContent = formatSeconds(state.ttlLeft);
}, 1000);

function fillEditor(meta, path) {
  $("empty").hidden = true;
  $("conflict").hidden = true;
  $("editor").hidden = false;
  $("changed").hidden = true;
  state.open = meta;
  state.dirty = false;
  $("path").value = meta ? meta.path : path;
  $("path").readOnly = Boolean(meta);
  $("body").value = JSON.stringify(meta ? meta.data : {}, null, 2);
  $("ttl").value = "";
  $("delete").disabled = !meta;
  $("reload").disabled = !meta;
  showMeta(meta);
  validate();
  for (const button of $("entries").querySelectorAll("button")) {
    button.toggleAttribute("aria-current", Boolean(meta) && button.dataset.path === meta.path);
  }
}

function closeDocument() {
  state.open = null;
  state.dirty = false;
  state.ttlLeft = null;
  $("editor").hidden = true;
  $("conflict").hidden = true;
  $("empty").hidden = false;
}

async function fetchMeta(path) {
  const response = await api("GET", encodePath(path), { query: { meta: "1" } });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(await problemOf(response));
  return response.json();
}

async function openDocument(path) {
  try {
    const meta = await fetchMeta(path);
    if (meta === null) {
      say("no document at " + path);
      return;
    }
    fillEditor(meta);
    $("body").focus();
  } catch (error) {
    say(error.message);
  }
}

function newDocument() {
  fillEditor(null, state.search !== null ? state.search : state.folder);
  const path = $("path");
  path.focus();
  path.setSelectionRange(path.value.length, path.value.length);
}

function parseBody() {
  let value;
  try {
    value = JSON.parse($("body").value);
  } catch (error) {
    return { error: "not JSON: " + error.message };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "a document is a JSON object: {...}" };
  }
  return { value };
}

function validate() {
  const parsed = parseBody();
  $("invalid").textContent = parsed.error || "";
  $("body").setAttribute("aria-invalid", parsed.error ? "true" : "false");
  const ttl = $("ttl").value.trim();
  const ttlOk = ttl === "" || /^[1-9][0-9]*$/.test(ttl);
  if (!ttlOk) $("invalid").textContent = "the TTL is a whole number of seconds";
  $("save").disabled = Boolean(parsed.error) || !ttlOk;
  return parsed.error || !ttlOk ? null : parsed.value;
}

async function put(path, data, condition) {
  const ttl = $("ttl").value.trim();
  return api("PUT", encodePath(path), {
    body: data,
    headers: condition,
    query: ttl ? { ttl } : undefined,
  });
}

async function save() {
  const data = validate();
  if (data === null) return;
  const path = $("path").value.trim();
  if (!path.startsWith("/")) {
    $("invalid").textContent = "a path starts with /";
    return;
  }
  const condition = state.open ? { "if-match": state.open.etag } : { "if-none-match": "*" };
  const response = await put(path, data, condition);
  if (response.status === 412) return showConflict(path, data);
  if (!response.ok) {
    $("invalid").textContent = await problemOf(response);
    return;
  }
  const meta = await response.json();
  fillEditor(meta);
  say((response.status === 201 ? "created " : "saved ") + meta.path + " (v" + meta.version + ")");
  loadEntries(false);
}

async function showConflict(path, mine) {
  const theirs = await fetchMeta(path);
  $("editor").hidden = true;
  $("conflict").hidden = false;
  $("mine").textContent = JSON.stringify(mine, null, 2);
  $("theirs").textContent = theirs ? JSON.stringify(theirs.data, null, 2) : "(deleted)";
  $("theirs-caption").textContent = theirs
    ? "Theirs (version " + theirs.version + ", " + theirs.etag + ")"
    : "Theirs (deleted since)";
  state.conflict = { path, mine, theirs };
  $("keep-mine").focus();
}

async function keepMine() {
  const { path, mine, theirs } = state.conflict;
  const condition = theirs ? { "if-match": theirs.etag } : { "if-none-match": "*" };
  const response = await put(path, mine, condition);
  if (response.status === 412) return showConflict(path, mine);
  if (!response.ok) return say(await problemOf(response));
  const meta = await response.json();
  fillEditor(meta);
  say("saved " + meta.path + " over their version (v" + meta.version + ")");
  loadEntries(false);
}

function takeTheirs() {
  const { path, theirs } = state.conflict;
  if (theirs) fillEditor(theirs);
  else fillEditor(null, path);
}

async function remove() {
  if (!state.open) return;
  const path = state.open.path;
  if (!confirm("Delete " + path + "?")) return;
  const response = await api("DELETE", encodePath(path), {
    headers: { "if-match": state.open.etag },
  });
  if (response.status === 412) {
    $("changed").hidden = false;
    $("changed").textContent = "It changed since you opened it: reload, then delete.";
    return;
  }
  if (!response.ok && response.status !== 404) return say(await problemOf(response));
  closeDocument();
  say("deleted " + path);
  loadEntries(false);
}

// ---------------------------------------------------------------- hits

async function loadHits() {
  const response = await api("GET", "/-/hits", { query: { limit: "10" } });
  const list = $("hits");
  if (!response.ok) {
    list.replaceChildren();
    return;
  }
  const items = (await response.json()).items;
  const top = Math.max(1, ...items.map((item) => item.hits));
  list.replaceChildren(
    ...items.map((item) => {
      const row = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.title = item.path + ": " + item.hits + " hits";
      const label = document.createElement("span");
      label.className = "bar-label";
      const name = document.createElement("span");
      name.textContent = item.path;
      const count = document.createElement("span");
      count.textContent = String(item.hits);
      label.append(name, count);
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = Math.round((100 * item.hits) / top) + "%";
      button.append(label, bar);
      button.addEventListener("click", () => openDocument(item.path));
      row.append(button);
      return row;
    }),
  );
  if (items.length === 0) {
    const none = document.createElement("li");
    none.className = "hint";
    none.textContent = "(no hits yet)";
    list.append(none);
  }
}

// ---------------------------------------------------------------- live updates

function follow() {
  if (state.feed) state.feed.close();
  const query = { prefix: "/" };
  if (state.token) query.access_token = state.token;
  const feed = new EventSource(BASE + "/-/watch?" + new URLSearchParams(query));
  state.feed = feed;
  feed.onopen = () => { $("live-state").textContent = "connected"; };
  feed.onerror = () => {
    $("live-state").textContent = feed.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
  };
  for (const kind of ["put", "delete", "expire", "reset"]) {
    feed.addEventListener(kind, (event) => changed(kind, event.data));
  }
}

let refreshTimer = null;
function changed(kind, raw) {
  let event = {};
  try {
    event = JSON.parse(raw);
  } catch {
    event = { detail: raw };
  }
  const line = document.createElement("li");
  line.className = kind;
  const when = new Date().toLocaleTimeString();
  line.textContent = kind === "reset"
    ? when + " reset: " + (event.reason || event.detail || "")
    : when + " " + kind + " " + event.path + (event.version ? " v" + event.version : "");
  const live = $("live");
  live.prepend(line);
  while (live.children.length > 50) live.lastChild.remove();
  if (state.open && event.path === state.open.path && kind !== "reset") {
    if (state.dirty || kind !== "put") {
      $("changed").hidden = false;
      $("changed").textContent = kind === "put"
        ? "Changed on the server (version " + event.version + "): saving will show both."
        : "Deleted on the server.";
    } else {
      openDocument(event.path);
    }
  }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadEntries(false);
    loadHits();
  }, 300);
}

// ---------------------------------------------------------------- wiring

function refreshAll() {
  showCrumbs();
  loadEntries(false);
  loadHits();
  follow();
}

function wire() {
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    search($("prefix").value.trim());
  });
  $("sign-in").addEventListener("click", () => askForToken(""));
  $("sign-out").addEventListener("click", () => signIn(null));
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("sign-in-dialog").close();
    signIn($("token").value.trim());
    $("token").value = "";
  });
  $("sign-in-cancel").addEventListener("click", () => $("sign-in-dialog").close());
  $("more").addEventListener("click", () => loadEntries(true));
  $("new").addEventListener("click", newDocument);
  $("editor").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("body").addEventListener("input", () => {
    state.dirty = true;
    validate();
  });
  $("ttl").addEventListener("input", validate);
  $("reload").addEventListener("click", () => state.open && openDocument(state.open.path));
  $("delete").addEventListener("click", remove);
  $("keep-mine").addEventListener("click", keepMine);
  $("take-theirs").addEventListener("click", takeTheirs);
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      $("prefix").focus();
    } else if ((event.ctrlKey || event.metaKey) && event.key === "s" && !$("editor").hidden) {
      event.preventDefault();
      save();
    }
  });
  setInterval(loadHits, 10000);
}

wire();
showAccount();
refreshAll();
