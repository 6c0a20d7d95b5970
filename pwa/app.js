// Larmkoll field app shell: login and customer search against /api/v1.
// The offline outbox and the order screens come with the field-app issue.
"use strict";

const state = { token: sessionStorage.getItem("access_token") };

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.body) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, { ...options, headers });
  const body = res.status === 204 ? null : await res.json();
  if (!res.ok) throw Object.assign(new Error(body?.detail_sv || res.statusText), { status: res.status });
  return body;
}

function show(loggedIn) {
  document.getElementById("login").hidden = loggedIn;
  document.getElementById("home").hidden = !loggedIn;
}

async function loadCustomers(q) {
  const list = document.getElementById("customers");
  const params = new URLSearchParams(q ? { q } : {});
  try {
    const page = await api(`/customers?${params}`);
    list.replaceChildren(...page.items.map((c) => {
      const li = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = `${c.first_name} ${c.last_name}`;
      const info = document.createElement("div");
      info.className = "muted";
      info.textContent = `${c.customer_number} · ${c.address.street}, ${c.address.city} · Nyckel: ${c.key_position ?? "–"}`;
      li.append(name, info);
      return li;
    }));
  } catch (e) {
    if (e.status === 401) return logout();
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: e.message }));
  }
}

function logout() {
  state.token = null;
  sessionStorage.removeItem("access_token");
  document.getElementById("who").textContent = "";
  show(false);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const error = document.getElementById("login-error");
    try {
      const t = await api("/auth/login", {
        method: "POST",
        body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
      });
      state.token = t.access_token;
      sessionStorage.setItem("access_token", t.access_token);
      document.getElementById("who").textContent = t.user.display_name;
      error.hidden = true;
      show(true);
      loadCustomers();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  });
  document.getElementById("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadCustomers(new FormData(ev.target).get("q"));
  });
  document.getElementById("logout").addEventListener("click", logout);
  show(Boolean(state.token));
  if (state.token) loadCustomers();
});
