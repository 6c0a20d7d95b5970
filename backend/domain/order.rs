//! The order state machines of the lifecycle (domain.md, "The lifecycle"):
//! one pure function of (kind, state, event), and who may cause each event.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// nybeställning
    Install,
    /// avbeställning / avslut
    Uninstall,
    /// förlängning
    Extension,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Received,
    ReturnedToAssessor,
    Booked,
    KeysReceived,
    Installed,
    Executed,
    EquipmentCollected,
    KeysReturned,
    Ended,
    Declined,
    Cancelled,
}

/// What happens to an order; each is one API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderEvent {
    /// The order is incorrect: back to the assessor with a reason.
    ReturnToAssessor,
    /// The assessor corrected it.
    Resubmit,
    /// A visit is booked (or rebooked).
    Book,
    /// The customer's keys are in the organisation's custody.
    ReceiveKeys,
    /// Installed on a date, with serials.
    Install,
    /// The coordinator executes (verkställer) with the installation date; billing starts.
    Execute,
    /// Equipment picked up at the customer's.
    CollectEquipment,
    /// Keys handed back (or kept because other services go on).
    ReturnKeys,
    /// The coordinator ends the execution with the assessor's end date; billing stops.
    End,
    /// The customer does not want it.
    Decline,
    /// The decision was withdrawn.
    Cancel,
    /// The coordinator ordered the digital lock from the supplier (seed 001 step 6).
    OrderFromSupplier,
    /// Staff picked up the lock receipt (låskvittens) the fitter left (seed 001 step 8).
    CollectLockReceipt,
    /// The alarm centre registered the installed alarm in the alarm-receiving platform (seed 000 step 3).
    RegisterInPlatform,
    /// The alarm centre deregistered it after cancellation or termination (seed 000 step 12).
    DeregisterFromPlatform,
}

impl OrderKind {
    pub const ALL: [OrderKind; 3] = [
        OrderKind::Install,
        OrderKind::Uninstall,
        OrderKind::Extension,
    ];
}

impl OrderState {
    pub const ALL: [OrderState; 11] = [
        OrderState::Received,
        OrderState::ReturnedToAssessor,
        OrderState::Booked,
        OrderState::KeysReceived,
        OrderState::Installed,
        OrderState::Executed,
        OrderState::EquipmentCollected,
        OrderState::KeysReturned,
        OrderState::Ended,
        OrderState::Declined,
        OrderState::Cancelled,
    ];

    /// The states an order ends in: nothing more happens to it. Every
    /// "open order" in the system is one not in these.
    pub const FINAL: [OrderState; 4] = [
        OrderState::Executed,
        OrderState::Ended,
        OrderState::Declined,
        OrderState::Cancelled,
    ];

    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }

    /// The final states as stored, for queries that want open orders.
    pub fn final_names() -> [&'static str; 4] {
        Self::FINAL.map(Self::as_str)
    }

    /// The states an install order is still open in, in lifecycle order.
    pub fn open_install_states() -> Vec<OrderState> {
        reachable_states(OrderKind::Install)
            .into_iter()
            .filter(|s| !s.is_final())
            .collect()
    }
}

impl OrderEvent {
    pub const ALL: [OrderEvent; 15] = [
        OrderEvent::ReturnToAssessor,
        OrderEvent::Resubmit,
        OrderEvent::Book,
        OrderEvent::ReceiveKeys,
        OrderEvent::Install,
        OrderEvent::Execute,
        OrderEvent::CollectEquipment,
        OrderEvent::ReturnKeys,
        OrderEvent::End,
        OrderEvent::Decline,
        OrderEvent::Cancel,
        OrderEvent::OrderFromSupplier,
        OrderEvent::CollectLockReceipt,
        OrderEvent::RegisterInPlatform,
        OrderEvent::DeregisterFromPlatform,
    ];

    /// The path segment of the operation: `/orders/{id}/{segment}`.
    pub fn segment(self) -> &'static str {
        match self {
            OrderEvent::ReturnToAssessor => "return-to-assessor",
            OrderEvent::Resubmit => "resubmit",
            OrderEvent::Book => "book",
            OrderEvent::ReceiveKeys => "receive-keys",
            OrderEvent::Install => "install",
            OrderEvent::Execute => "execute",
            OrderEvent::CollectEquipment => "collect-equipment",
            OrderEvent::ReturnKeys => "return-keys",
            OrderEvent::End => "end",
            OrderEvent::Decline => "decline",
            OrderEvent::Cancel => "cancel",
            OrderEvent::OrderFromSupplier => "order-from-supplier",
            OrderEvent::CollectLockReceipt => "collect-lock-receipt",
            OrderEvent::RegisterInPlatform => "register-in-platform",
            OrderEvent::DeregisterFromPlatform => "deregister-from-platform",
        }
    }
}

/// The one state machine. `None`: the event is not allowed in that state.
pub fn next_state(kind: OrderKind, state: OrderState, event: OrderEvent) -> Option<OrderState> {
    use OrderEvent as E;
    use OrderKind as K;
    use OrderState as S;
    // Staff fetch the lock receipt at their next visit, often after execution:
    // a record on the order that leaves its state as it is.
    if (kind, event) == (K::Install, E::CollectLockReceipt) {
        return matches!(state, S::Installed | S::Executed).then_some(state);
    }
    // The alarm platform's records leave the install order's state as it is:
    // registered once installed; deregistered also after a cancel or decline.
    if (kind, event) == (K::Install, E::RegisterInPlatform) {
        return matches!(state, S::Installed | S::Executed).then_some(state);
    }
    if (kind, event) == (K::Install, E::DeregisterFromPlatform) {
        return matches!(
            state,
            S::Installed | S::Executed | S::Cancelled | S::Declined
        )
        .then_some(state);
    }
    if state.is_final() {
        return None;
    }
    match (kind, state, event) {
        // Any open order can be cancelled; an install can be declined.
        (K::Install, _, E::Decline) => Some(S::Declined),
        (_, _, E::Cancel) => Some(S::Cancelled),

        (K::Install | K::Extension, S::Received, E::ReturnToAssessor) => {
            Some(S::ReturnedToAssessor)
        }
        (K::Install | K::Extension, S::ReturnedToAssessor, E::Resubmit) => Some(S::Received),

        (K::Install, S::Received | S::Booked, E::Book) => Some(S::Booked),
        (K::Install, S::Booked, E::ReceiveKeys) => Some(S::KeysReceived),
        (K::Install, S::Booked | S::KeysReceived, E::Install) => Some(S::Installed),
        (K::Install, S::Installed, E::Execute) => Some(S::Executed),
        (K::Install, S::Received | S::Booked | S::KeysReceived, E::OrderFromSupplier) => {
            Some(state)
        }

        // An extension is checked and executed by the coordinator.
        (K::Extension, S::Received, E::Execute) => Some(S::Executed),

        (K::Uninstall, S::Received | S::Booked, E::Book) => Some(S::Booked),
        (K::Uninstall, S::Received | S::Booked, E::CollectEquipment) => Some(S::EquipmentCollected),
        (K::Uninstall, S::EquipmentCollected, E::ReturnKeys) => Some(S::KeysReturned),
        (K::Uninstall, S::KeysReturned, E::End) => Some(S::Ended),

        _ => None,
    }
}

/// The events possible from here, for the 409 message and for clients.
pub fn allowed_events(kind: OrderKind, state: OrderState) -> Vec<OrderEvent> {
    OrderEvent::ALL
        .into_iter()
        .filter(|e| next_state(kind, state, *e).is_some())
        .collect()
}

impl OrderEvent {
    /// Events that only make sense for a digital lock.
    pub fn lock_only(self) -> bool {
        matches!(
            self,
            OrderEvent::OrderFromSupplier | OrderEvent::CollectLockReceipt
        )
    }
}

impl OrderEvent {
    /// Events that only make sense for a safety alarm (the alarm platform).
    pub fn alarm_only(self) -> bool {
        matches!(
            self,
            OrderEvent::RegisterInPlatform | OrderEvent::DeregisterFromPlatform
        )
    }
}

/// The events possible from here for an order of this service.
pub fn allowed_events_for(kind: OrderKind, service: Service, state: OrderState) -> Vec<OrderEvent> {
    allowed_events(kind, state)
        .into_iter()
        .filter(|e| service == Service::DigitalLock || !e.lock_only())
        .filter(|e| service == Service::SafetyAlarm || !e.alarm_only())
        .collect()
}

/// The alarm platform's record on an install order, as far as it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlatformRecord {
    pub registered: bool,
    pub deregistered: bool,
}

/// The events possible for one order: [`allowed_events_for`] less the
/// platform's records already made or not yet possible (a deregistration
/// needs a registration).
pub fn allowed_events_of(
    kind: OrderKind,
    service: Service,
    state: OrderState,
    platform: PlatformRecord,
) -> Vec<OrderEvent> {
    allowed_events_for(kind, service, state)
        .into_iter()
        .filter(|e| match e {
            OrderEvent::RegisterInPlatform => !platform.registered,
            OrderEvent::DeregisterFromPlatform => platform.registered && !platform.deregistered,
            _ => true,
        })
        .collect()
}

/// The states an order of this kind can be created in or reach.
pub fn reachable_states(kind: OrderKind) -> Vec<OrderState> {
    let mut seen = vec![OrderState::Received];
    let mut i = 0;
    while i < seen.len() {
        for e in OrderEvent::ALL {
            if let Some(n) = next_state(kind, seen[i], e) {
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
        }
        i += 1;
    }
    seen
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// Called the customer.
    Call,
    /// Called; nobody answered.
    NoAnswer,
    /// Agreed a visit.
    VisitBooked,
    Note,
    /// Why the open order waits (väntar-orsak): the note says it, and the
    /// order shows it until it moves on.
    Waiting,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Call => "call",
            ContactKind::NoAnswer => "no_answer",
            ContactKind::VisitBooked => "visit_booked",
            ContactKind::Note => "note",
            ContactKind::Waiting => "waiting",
        }
    }
}

/// The services a decision grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// trygghetslarm
    SafetyAlarm,
    /// digitalt lås / låsvred
    DigitalLock,
}

text_enum!(Service { SafetyAlarm => "safety_alarm", DigitalLock => "digital_lock" });
text_enum!(OrderKind { Install => "install", Uninstall => "uninstall", Extension => "extension" });
text_enum!(OrderState {
    Received => "received",
    ReturnedToAssessor => "returned_to_assessor",
    Booked => "booked",
    KeysReceived => "keys_received",
    Installed => "installed",
    Executed => "executed",
    EquipmentCollected => "equipment_collected",
    KeysReturned => "keys_returned",
    Ended => "ended",
    Declined => "declined",
    Cancelled => "cancelled",
});
text_enum!(OrderEvent {
    ReturnToAssessor => "return_to_assessor",
    Resubmit => "resubmit",
    Book => "book",
    ReceiveKeys => "receive_keys",
    Install => "install",
    Execute => "execute",
    CollectEquipment => "collect_equipment",
    ReturnKeys => "return_keys",
    End => "end",
    Decline => "decline",
    Cancel => "cancel",
    OrderFromSupplier => "order_from_supplier",
    CollectLockReceipt => "collect_lock_receipt",
    RegisterInPlatform => "register_in_platform",
    DeregisterFromPlatform => "deregister_from_platform",
});

// The words a person reads in Swedish messages (the API's values stay English).
impl Service {
    pub fn sv(self) -> &'static str {
        match self {
            Service::SafetyAlarm => "Trygghetslarm",
            Service::DigitalLock => "Digitalt lås",
        }
    }
}

impl OrderKind {
    pub fn sv(self) -> &'static str {
        match self {
            OrderKind::Install => "installation",
            OrderKind::Uninstall => "avinstallation",
            OrderKind::Extension => "förlängning",
        }
    }
}

impl OrderState {
    pub fn sv(self) -> &'static str {
        match self {
            OrderState::Received => "mottagen",
            OrderState::ReturnedToAssessor => "åter hos handläggaren",
            OrderState::Booked => "bokad",
            OrderState::KeysReceived => "nycklar mottagna",
            OrderState::Installed => "installerad",
            OrderState::Executed => "verkställd",
            OrderState::EquipmentCollected => "utrustning hämtad",
            OrderState::KeysReturned => "nycklar återlämnade",
            OrderState::Ended => "avslutad",
            OrderState::Declined => "avböjd",
            OrderState::Cancelled => "makulerad",
        }
    }
}

impl OrderEvent {
    pub fn sv(self) -> &'static str {
        match self {
            OrderEvent::ReturnToAssessor => "åter till handläggaren",
            OrderEvent::Resubmit => "skicka in igen",
            OrderEvent::Book => "boka besök",
            OrderEvent::ReceiveKeys => "ta emot nycklar",
            OrderEvent::Install => "installera",
            OrderEvent::Execute => "verkställa",
            OrderEvent::CollectEquipment => "hämta utrustning",
            OrderEvent::ReturnKeys => "återlämna nycklar",
            OrderEvent::End => "avsluta",
            OrderEvent::Decline => "kunden avböjer",
            OrderEvent::Cancel => "makulera",
            OrderEvent::OrderFromSupplier => "beställa från leverantören",
            OrderEvent::CollectLockReceipt => "hämta låskvittensen",
            OrderEvent::RegisterInPlatform => "registrera i larmplattformen",
            OrderEvent::DeregisterFromPlatform => "avregistrera i larmplattformen",
        }
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn open_means_not_final_and_every_open_order_can_be_cancelled() {
        assert_eq!(
            OrderState::open_install_states(),
            [
                OrderState::Received,
                OrderState::ReturnedToAssessor,
                OrderState::Booked,
                OrderState::KeysReceived,
                OrderState::Installed,
            ]
        );
        assert_eq!(
            OrderState::final_names(),
            ["executed", "ended", "declined", "cancelled"]
        );
        // Ending a decision cancels its open orders through the state machine.
        for kind in OrderKind::ALL {
            for state in reachable_states(kind).into_iter().filter(|s| !s.is_final()) {
                assert_eq!(
                    next_state(kind, state, OrderEvent::Cancel),
                    Some(OrderState::Cancelled),
                    "{kind:?} in {state:?}"
                );
            }
        }
    }

    #[test]
    fn text_forms_match_serde() {
        for s in OrderState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<OrderState>().unwrap(), s);
        }
        for e in OrderEvent::ALL {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
            assert_eq!(e.as_str().parse::<OrderEvent>().unwrap(), e);
        }
        for k in OrderKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(
            serde_json::to_value(Service::DigitalLock).unwrap(),
            Service::DigitalLock.as_str()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderEvent as E;
    use OrderKind as K;
    use OrderState as S;

    /// Every (kind, state, event) triple with its expected outcome. A triple
    /// missing here, or answered differently by `next_state`, fails the test.
    fn expected(kind: K, state: S, event: E) -> Option<S> {
        let allowed: &[(K, S, E, S)] = &[
            (
                K::Install,
                S::Received,
                E::ReturnToAssessor,
                S::ReturnedToAssessor,
            ),
            (K::Install, S::ReturnedToAssessor, E::Resubmit, S::Received),
            (K::Install, S::Received, E::Book, S::Booked),
            (K::Install, S::Booked, E::Book, S::Booked),
            (K::Install, S::Booked, E::ReceiveKeys, S::KeysReceived),
            (K::Install, S::Booked, E::Install, S::Installed),
            (K::Install, S::KeysReceived, E::Install, S::Installed),
            (K::Install, S::Installed, E::Execute, S::Executed),
            (K::Install, S::Received, E::OrderFromSupplier, S::Received),
            (K::Install, S::Booked, E::OrderFromSupplier, S::Booked),
            (
                K::Install,
                S::KeysReceived,
                E::OrderFromSupplier,
                S::KeysReceived,
            ),
            (
                K::Install,
                S::Installed,
                E::CollectLockReceipt,
                S::Installed,
            ),
            (K::Install, S::Executed, E::CollectLockReceipt, S::Executed),
            (
                K::Install,
                S::Installed,
                E::RegisterInPlatform,
                S::Installed,
            ),
            (K::Install, S::Executed, E::RegisterInPlatform, S::Executed),
            (
                K::Install,
                S::Installed,
                E::DeregisterFromPlatform,
                S::Installed,
            ),
            (
                K::Install,
                S::Executed,
                E::DeregisterFromPlatform,
                S::Executed,
            ),
            (
                K::Install,
                S::Cancelled,
                E::DeregisterFromPlatform,
                S::Cancelled,
            ),
            (
                K::Install,
                S::Declined,
                E::DeregisterFromPlatform,
                S::Declined,
            ),
            (
                K::Extension,
                S::Received,
                E::ReturnToAssessor,
                S::ReturnedToAssessor,
            ),
            (
                K::Extension,
                S::ReturnedToAssessor,
                E::Resubmit,
                S::Received,
            ),
            (K::Extension, S::Received, E::Execute, S::Executed),
            (K::Uninstall, S::Received, E::Book, S::Booked),
            (K::Uninstall, S::Booked, E::Book, S::Booked),
            (
                K::Uninstall,
                S::Received,
                E::CollectEquipment,
                S::EquipmentCollected,
            ),
            (
                K::Uninstall,
                S::Booked,
                E::CollectEquipment,
                S::EquipmentCollected,
            ),
            (
                K::Uninstall,
                S::EquipmentCollected,
                E::ReturnKeys,
                S::KeysReturned,
            ),
            (K::Uninstall, S::KeysReturned, E::End, S::Ended),
        ];
        if let Some((_, _, _, to)) = allowed
            .iter()
            .find(|(k, s, e, _)| (*k, *s, *e) == (kind, state, event))
        {
            return Some(*to);
        }
        let open = reachable_states(kind).contains(&state) && !state.is_final();
        match event {
            E::Decline if open && kind == K::Install => Some(S::Declined),
            E::Cancel if open => Some(S::Cancelled),
            _ => None,
        }
    }

    #[test]
    fn every_kind_state_event_triple_is_as_the_table_says() {
        let mut checked = 0;
        for kind in K::ALL {
            for state in S::ALL {
                for event in E::ALL {
                    let reachable = reachable_states(kind).contains(&state);
                    let got = if reachable {
                        next_state(kind, state, event)
                    } else {
                        None
                    };
                    assert_eq!(
                        got,
                        expected(kind, state, event),
                        "{kind:?} {state:?} --{event:?}-->"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 3 * 11 * 15);
    }

    #[test]
    fn final_states_allow_nothing_but_records_that_keep_them() {
        for kind in K::ALL {
            for state in [S::Executed, S::Ended, S::Declined, S::Cancelled] {
                let expected = match (kind, state) {
                    (K::Install, S::Executed) => vec![
                        E::CollectLockReceipt,
                        E::RegisterInPlatform,
                        E::DeregisterFromPlatform,
                    ],
                    // An alarm registered before its order was cancelled or declined.
                    (K::Install, S::Declined | S::Cancelled) => vec![E::DeregisterFromPlatform],
                    _ => vec![],
                };
                assert_eq!(allowed_events(kind, state), expected, "{kind:?} {state:?}");
            }
        }
    }

    #[test]
    fn each_kind_reaches_the_states_of_its_routine() {
        let install = reachable_states(K::Install);
        for s in [
            S::ReturnedToAssessor,
            S::Booked,
            S::KeysReceived,
            S::Installed,
            S::Executed,
            S::Declined,
            S::Cancelled,
        ] {
            assert!(install.contains(&s), "{s:?}");
        }
        assert!(!install.contains(&S::Ended));
        let uninstall = reachable_states(K::Uninstall);
        for s in [S::Booked, S::EquipmentCollected, S::KeysReturned, S::Ended] {
            assert!(uninstall.contains(&s), "{s:?}");
        }
        assert!(!uninstall.contains(&S::Installed));
    }

    #[test]
    fn lock_only_events_are_offered_only_for_locks() {
        let alarm = allowed_events_for(K::Install, Service::SafetyAlarm, S::Received);
        assert!(!alarm.contains(&E::OrderFromSupplier));
        let lock = allowed_events_for(K::Install, Service::DigitalLock, S::Received);
        assert!(lock.contains(&E::OrderFromSupplier));
        assert_eq!(
            allowed_events_for(K::Install, Service::DigitalLock, S::Executed),
            [E::CollectLockReceipt],
            "a lock is not registered in the alarm platform"
        );
    }

    #[test]
    fn the_platform_records_are_offered_in_their_order() {
        let offered = |registered, deregistered| {
            allowed_events_of(
                K::Install,
                Service::SafetyAlarm,
                S::Executed,
                PlatformRecord {
                    registered,
                    deregistered,
                },
            )
        };
        assert_eq!(offered(false, false), [E::RegisterInPlatform]);
        assert_eq!(offered(true, false), [E::DeregisterFromPlatform]);
        assert!(offered(true, true).is_empty());
        let cancelled = PlatformRecord::default();
        assert!(
            allowed_events_of(K::Install, Service::SafetyAlarm, S::Cancelled, cancelled).is_empty()
        );
    }

    #[test]
    fn segments_are_unique() {
        let mut s: Vec<_> = E::ALL.iter().map(|e| e.segment()).collect();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), E::ALL.len());
    }
}
