//! The order lifecycle as clients read it: for each kind of order its states,
//! its events, the transitions between them and who may fire each event, with
//! the Swedish words a person reads. Built by walking [`next_state`] over every
//! state and event, so it says exactly what the server decides; served at
//! `GET /api/v1/lifecycle` and committed as `openapi/lifecycle.json`.

use super::order::{next_state, reachable_states, OrderEvent, OrderKind, OrderState};
use super::Role;
use serde::Serialize;
use utoipa::ToSchema;

/// The state machines of every kind of order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Lifecycle {
    /// Install, uninstall and extension, in that order.
    pub kinds: Vec<KindLifecycle>,
}

/// One kind of order's state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KindLifecycle {
    pub kind: OrderKind,
    /// The kind in Swedish, e.g. "Installation".
    pub label: String,
    /// The states an order of this kind can be in, in lifecycle order
    /// (`received` first, the final ones last).
    pub states: Vec<StateDescription>,
    /// The events that move an order of this kind, in a fixed order.
    pub events: Vec<EventDescription>,
    /// Every allowed (state, event) and the state it leads to. A pair not
    /// listed is refused with 409 `invalid_transition`.
    pub transitions: Vec<StateTransition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StateDescription {
    pub state: OrderState,
    /// The state in Swedish, e.g. "Bokad".
    pub label: String,
    /// Nothing more happens to the order in this state (an open order is one
    /// not final); a final state may still allow a record that leaves it as it
    /// is, such as fetching the lock receipt after execution.
    #[serde(rename = "final")]
    pub is_final: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EventDescription {
    pub event: OrderEvent,
    /// The action in Swedish as a button says it, e.g. "Boka besök".
    pub label: String,
    /// The operation that fires it: `POST /api/v1/orders/{id}/{path_segment}`.
    pub path_segment: String,
    /// Only for an order of a digital lock.
    pub lock_only: bool,
    /// The roles that may fire it (the authorization table's answer).
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StateTransition {
    pub from: OrderState,
    pub event: OrderEvent,
    pub to: OrderState,
}

/// The whole description. `may_fire` is the authorization table's answer to
/// "may this role fire this event" (the domain does not know who may).
pub fn describe(may_fire: impl Fn(Role, OrderEvent) -> bool) -> Lifecycle {
    let kinds = OrderKind::ALL
        .into_iter()
        .map(|kind| {
            let reachable: Vec<OrderState> = OrderState::ALL
                .into_iter()
                .filter(|s| reachable_states(kind).contains(s))
                .collect();
            let transitions: Vec<StateTransition> = reachable
                .iter()
                .flat_map(|&from| {
                    OrderEvent::ALL.into_iter().filter_map(move |event| {
                        next_state(kind, from, event).map(|to| StateTransition { from, event, to })
                    })
                })
                .collect();
            let states = reachable
                .iter()
                .map(|&state| StateDescription {
                    state,
                    label: state.label(),
                    is_final: state.is_final(),
                })
                .collect();
            let events = OrderEvent::ALL
                .into_iter()
                .filter(|e| transitions.iter().any(|t| t.event == *e))
                .map(|event| EventDescription {
                    event,
                    label: event.label().to_string(),
                    path_segment: event.segment().to_string(),
                    lock_only: event.lock_only(),
                    roles: Role::ALL
                        .into_iter()
                        .filter(|r| may_fire(*r, event))
                        .collect(),
                })
                .collect();
            KindLifecycle {
                kind,
                label: kind.label(),
                states,
                events,
                transitions,
            }
        })
        .collect();
    Lifecycle { kinds }
}

/// The first letter upper-case: "bokad" as a heading or a cell says "Bokad".
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl OrderState {
    /// The state as a label or a cell shows it: "Nycklar mottagna".
    pub fn label(self) -> String {
        capitalised(self.sv())
    }
}

impl OrderKind {
    /// The kind as a heading shows it: "Avinstallation".
    pub fn label(self) -> String {
        capitalised(self.sv())
    }
}

impl OrderEvent {
    /// The action as a button says it (imperative; [`OrderEvent::sv`] is the
    /// form a sentence uses: "kan inte boka besök").
    pub fn label(self) -> &'static str {
        match self {
            OrderEvent::ReturnToAssessor => "Skicka tillbaka till handläggaren",
            OrderEvent::Resubmit => "Skicka in igen",
            OrderEvent::Book => "Boka besök",
            OrderEvent::ReceiveKeys => "Ta emot nycklar",
            OrderEvent::Install => "Installera",
            OrderEvent::Execute => "Verkställ",
            OrderEvent::CollectEquipment => "Hämta utrustning",
            OrderEvent::ReturnKeys => "Återlämna nycklar",
            OrderEvent::End => "Avsluta",
            OrderEvent::Decline => "Kunden avböjer",
            OrderEvent::Cancel => "Makulera",
            OrderEvent::OrderFromSupplier => "Beställ från leverantören",
            OrderEvent::CollectLockReceipt => "Hämta låskvittensen",
            OrderEvent::RegisterInPlatform => "Registrera i larmplattformen",
            OrderEvent::DeregisterFromPlatform => "Avregistrera i larmplattformen",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderEvent as E;
    use OrderKind as K;
    use OrderState as S;

    fn only_installers(role: Role, _: OrderEvent) -> bool {
        role == Role::Installer
    }

    #[test]
    fn every_transition_of_the_state_machine_is_described_and_nothing_else() {
        let lifecycle = describe(only_installers);
        for kind in K::ALL {
            let described = lifecycle.kinds.iter().find(|k| k.kind == kind).unwrap();
            for state in S::ALL {
                for event in E::ALL {
                    let listed = described
                        .transitions
                        .iter()
                        .find(|t| (t.from, t.event) == (state, event))
                        .map(|t| t.to);
                    let decided = reachable_states(kind)
                        .contains(&state)
                        .then(|| next_state(kind, state, event))
                        .flatten();
                    assert_eq!(listed, decided, "{kind:?} {state:?} --{event:?}-->");
                }
            }
            // Every state a transition names is described, and every event.
            for t in &described.transitions {
                for s in [t.from, t.to] {
                    assert!(described.states.iter().any(|d| d.state == s), "{s:?}");
                }
                assert!(described.events.iter().any(|d| d.event == t.event));
            }
        }
    }

    #[test]
    fn states_say_whether_they_are_final_and_roles_come_from_the_caller() {
        let lifecycle = describe(|role, event| role == Role::Coordinator && event == E::Execute);
        let install = &lifecycle.kinds[0];
        assert_eq!(install.kind, K::Install);
        assert_eq!(install.label, "Installation");
        assert_eq!(install.states[0].state, S::Received);
        let fin: Vec<_> = install
            .states
            .iter()
            .filter(|s| s.is_final)
            .map(|s| s.state)
            .collect();
        assert_eq!(fin, [S::Executed, S::Declined, S::Cancelled]);
        let execute = install
            .events
            .iter()
            .find(|e| e.event == E::Execute)
            .unwrap();
        assert_eq!(execute.roles, [Role::Coordinator]);
        assert_eq!(execute.label, "Verkställ");
        assert_eq!(execute.path_segment, "execute");
        let book = install.events.iter().find(|e| e.event == E::Book).unwrap();
        assert!(book.roles.is_empty());
        // An extension is never booked.
        assert!(!lifecycle.kinds[2].events.iter().any(|e| e.event == E::Book));
    }

    #[test]
    fn labels_are_capitalised_swedish() {
        assert_eq!(S::ReturnedToAssessor.label(), "Åter hos handläggaren");
        assert_eq!(S::KeysReceived.label(), "Nycklar mottagna");
        assert_eq!(K::Uninstall.label(), "Avinstallation");
        for event in E::ALL {
            let label = event.label();
            assert!(label.starts_with(|c: char| c.is_uppercase()), "{label}");
        }
        assert_eq!(capitalised(""), "");
    }
}
