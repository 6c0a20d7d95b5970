// The order lifecycle as the server describes it (GET /api/v1/lifecycle):
// which events an order allows in its state, who may fire them, where they
// lead and what they are called. The field app, its outbox and the desk read
// it here instead of keeping a copy of the state machine. A classic script
// shared by the page, the service worker and the desk; pure functions of the
// description, which each caller fetches and keeps.
"use strict";

self.Larmkoll = self.Larmkoll || {};

(function (L) {
  function kindOf(lifecycle, kind) {
    return lifecycle?.kinds.find((k) => k.kind === kind) ?? null;
  }

  function stateOf(lifecycle, kind, state) {
    return kindOf(lifecycle, kind)?.states.find((s) => s.state === state) ?? null;
  }

  // The state an event takes an order to, or null where the server refuses it.
  function next(lifecycle, kind, state, event) {
    return kindOf(lifecycle, kind)?.transitions.find((t) => t.from === state && t.event === event)?.to ?? null;
  }

  // Nothing more happens to an order in a final state. Unknown: not final.
  function isFinal(lifecycle, kind, state) {
    return stateOf(lifecycle, kind, state)?.final ?? false;
  }

  // The events a user of this role may fire on this order now, in the
  // description's order: [{ event, label, path_segment, ... }].
  function events(lifecycle, order, role) {
    const kind = kindOf(lifecycle, order.kind);
    if (!kind) return [];
    return kind.events.filter((e) =>
      e.roles.includes(role) &&
      (!e.lock_only || order.service === "digital_lock") &&
      kind.transitions.some((t) => t.from === order.state && t.event === e.event));
  }

  // The Swedish words for a state, a kind or an event; the code itself when
  // the description is not on hand.
  function stateLabel(lifecycle, kind, state) {
    const found = stateOf(lifecycle, kind, state) ??
      lifecycle?.kinds.flatMap((k) => k.states).find((s) => s.state === state);
    return found?.label ?? state;
  }

  function kindLabel(lifecycle, kind) {
    return kindOf(lifecycle, kind)?.label ?? kind;
  }

  function eventLabel(lifecycle, kind, event) {
    return kindOf(lifecycle, kind)?.events.find((e) => e.event === event)?.label ?? event;
  }

  L.lifecycle = { next, isFinal, events, stateLabel, kindLabel, eventLabel };
})(self.Larmkoll);
