// One portable schema for both backends: ids as Text, UTC Timestamp.

diesel::table! {
    areas (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        area_id -> Text,
        name -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        alarm_lead -> Bool,
        active -> Bool,
        token_version -> Integer,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    oidc_logins (id) {
        id -> Text,
        state_hash -> Nullable<Text>,
        browser_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        app -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        called_back_at -> Nullable<Timestamp>,
        ticket_hash -> Nullable<Text>,
        user_id -> Nullable<Text>,
        refusal_code -> Nullable<Text>,
        refusal_en -> Nullable<Text>,
        refusal_sv -> Nullable<Text>,
        redeemed_at -> Nullable<Timestamp>,
        family_id -> Nullable<Text>,
        id_token -> Nullable<Text>,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        customer_number -> Text,
        personnummer -> Text,
        birth_date -> Date,
        first_name -> Text,
        last_name -> Text,
        search_name -> Text,
        street -> Text,
        postal_code -> Text,
        city -> Text,
        phone -> Nullable<Text>,
        area_id -> Text,
        ordinary_assessor_id -> Nullable<Text>,
        key_position -> Nullable<Text>,
        entry_notes -> Nullable<Text>,
        other_municipality -> Bool,
        consent_digital_lock -> Bool,
        consent_digital_lock_at -> Nullable<Timestamp>,
        consent_digital_lock_by -> Nullable<Text>,
        consent_staff_unlock -> Bool,
        consent_staff_unlock_at -> Nullable<Timestamp>,
        consent_staff_unlock_by -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    customer_groups (customer_id, group_id) {
        customer_id -> Text,
        group_id -> Text,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        user_id -> Nullable<Text>,
        username -> Text,
        action -> Text,
        outcome -> Text,
        entity -> Text,
        entity_id -> Nullable<Text>,
        customer_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (scope, idempotency_key) {
        scope -> Text,
        idempotency_key -> Text,
        method -> Text,
        path -> Text,
        request_hash -> Text,
        status -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        response_body -> Nullable<Binary>,
        created_at -> Timestamp,
        committed_at -> Nullable<Timestamp>,
        etag -> Nullable<Text>,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::joinable!(groups -> areas (area_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(customer_groups -> customers (customer_id));
diesel::joinable!(customer_groups -> groups (group_id));
diesel::joinable!(customers -> areas (area_id));

diesel::table! {
    keys (id) {
        id -> Text,
        key_number -> Text,
        customer_id -> Text,
        key_count -> Integer,
        cabinet -> Text,
        hook -> Text,
        night_cabinet -> Bool,
        custody -> Text,
        holder_group_id -> Nullable<Text>,
        holder_user_id -> Nullable<Text>,
        since -> Timestamp,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    key_moves (id) {
        id -> Text,
        key_id -> Text,
        seq -> Integer,
        at -> Timestamp,
        user_id -> Text,
        #[sql_name = "move"]
        move_kind -> Text,
        from_place -> Text,
        to_place -> Text,
        order_id -> Nullable<Text>,
        receipt_document_id -> Nullable<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    equipment_models (id) {
        id -> Text,
        kind -> Text,
        supplier -> Text,
        model -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    equipment_items (id) {
        id -> Text,
        model_id -> Text,
        kind -> Text,
        supplier -> Text,
        serial -> Text,
        state -> Text,
        customer_id -> Nullable<Text>,
        linked_customer_id -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    equipment_moves (id) {
        id -> Text,
        item_id -> Text,
        seq -> Integer,
        at -> Timestamp,
        user_id -> Text,
        from_state -> Text,
        to_state -> Text,
        customer_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    documents (id) {
        id -> Text,
        customer_id -> Text,
        order_id -> Nullable<Text>,
        kind -> Text,
        signed_by -> Text,
        signed_at -> Date,
        taken_by -> Text,
        sha256 -> Text,
        content_type -> Text,
        byte_size -> BigInt,
        width -> Integer,
        height -> Integer,
        superseded_by -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    followups (id) {
        id -> Text,
        rule -> Text,
        subject_id -> Text,
        period -> Text,
        fired_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    areas,
    groups,
    users,
    group_members,
    customers,
    customer_groups,
    refresh_tokens,
    audit_log,
    idempotency_keys,
    counters,
    decisions,
    orders,
    order_transitions,
    order_contacts,
    executions,
    billing_events,
    messages,
    message_reads,
    keys,
    key_moves,
    equipment_models,
    equipment_items,
    equipment_moves,
    documents,
    followups,
    oidc_logins,
    outbox,
    group_mailboxes,
    user_mail,
    webhook_subscriptions,
);

diesel::table! {
    decisions (id) {
        id -> Text,
        customer_id -> Text,
        service -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        follows_id -> Nullable<Text>,
        decided_by -> Text,
        ended_on -> Nullable<Date>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        customer_id -> Text,
        decision_id -> Text,
        kind -> Text,
        service -> Text,
        state -> Text,
        team_group_id -> Nullable<Text>,
        assigned_installer_id -> Nullable<Text>,
        visit_at -> Nullable<Timestamp>,
        visit_date -> Nullable<Date>,
        installation_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        serials -> Nullable<Text>,
        state_reason -> Nullable<Text>,
        supplier -> Nullable<Text>,
        supplier_reference -> Nullable<Text>,
        supplier_ordered_on -> Nullable<Date>,
        lock_receipt -> Nullable<Text>,
        lock_receipt_collected_on -> Nullable<Date>,
        received_at -> Timestamp,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        waiting_reason -> Nullable<Text>,
        waiting_since -> Nullable<Timestamp>,
        platform_reference -> Nullable<Text>,
        platform_registered_on -> Nullable<Date>,
        platform_deregistered_on -> Nullable<Date>,
    }
}

diesel::table! {
    order_transitions (id) {
        id -> Text,
        order_id -> Text,
        at -> Timestamp,
        user_id -> Text,
        event -> Text,
        from_state -> Text,
        to_state -> Text,
        reason -> Nullable<Text>,
        details -> Nullable<Text>,
    }
}

diesel::table! {
    order_contacts (id) {
        id -> Text,
        order_id -> Text,
        at -> Timestamp,
        user_id -> Text,
        kind -> Text,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    executions (id) {
        id -> Text,
        customer_id -> Text,
        order_id -> Nullable<Text>,
        decision_id -> Nullable<Text>,
        service -> Text,
        kind -> Text,
        billable -> Bool,
        start_date -> Date,
        end_date -> Nullable<Date>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    billing_events (id) {
        id -> Text,
        customer_id -> Text,
        execution_id -> Text,
        service -> Text,
        kind -> Text,
        event_date -> Date,
        own_invoice_line -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        created_at -> Timestamp,
        sender_id -> Nullable<Text>,
        recipient_group_id -> Nullable<Text>,
        recipient_user_id -> Nullable<Text>,
        recipient_role -> Nullable<Text>,
        customer_id -> Nullable<Text>,
        order_id -> Nullable<Text>,
        topic -> Text,
        subject -> Text,
        body -> Text,
        thread_id -> Text,
        post_id -> Text,
        copy -> Bool,
    }
}

diesel::table! {
    message_reads (message_id, user_id) {
        message_id -> Text,
        user_id -> Text,
        read_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        channel -> Text,
        event_type -> Text,
        message_id -> Nullable<Text>,
        subscription_id -> Nullable<Text>,
        customer_number -> Nullable<Text>,
        order_id -> Nullable<Text>,
        target -> Text,
        subject -> Text,
        body -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    group_mailboxes (group_id) {
        group_id -> Text,
        address -> Text,
    }
}

diesel::table! {
    user_mail (user_id) {
        user_id -> Text,
        address -> Text,
        topics -> Text,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        url -> Text,
        secret -> Text,
        event_types -> Text,
        allow_http -> Bool,
        created_at -> Timestamp,
    }
}
