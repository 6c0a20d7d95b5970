//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`
//! with a stable machine `code` and a message in English and Swedish.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// RFC 9457 problem details, as every error response of this API.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:larmkoll:problem:customer_not_found",
    "title": "No such customer",
    "title_sv": "Brukaren finns inte",
    "status": 404,
    "code": "customer_not_found",
    "detail": "No customer with this id exists, or you may not see it.",
    "detail_sv": "Det finns ingen brukare med detta id, eller så får du inte se den."
}))]
pub struct Problem {
    /// `urn:larmkoll:problem:{code}`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// What kind of problem this is, in English: one text per `code`.
    pub title: String,
    /// The same in Swedish, e.g. as a heading above `detail_sv`.
    pub title_sv: String,
    pub status: u16,
    /// Stable machine-readable code; clients branch on this, never on text.
    #[schema(value_type = ErrorCode)]
    pub code: String,
    /// What went wrong and what to do about it, in English.
    pub detail: String,
    /// The same in Swedish.
    pub detail_sv: String,
    /// Field-level problems, when the request body or parameters were invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One field's problem, in English and in Swedish.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "field": "first_name",
    "code": "too_long",
    "detail": "at most 100 characters",
    "detail_sv": "högst 100 tecken"
}))]
pub struct FieldError {
    /// JSON pointer-ish path of the field, e.g. `personnummer` or `address.city`.
    pub field: String,
    /// Stable machine-readable code of the problem, e.g. `required` or `too_long`.
    pub code: String,
    /// What is wrong with the field and what to do, in English.
    pub detail: String,
    /// The same in Swedish, for the person filling in the form.
    pub detail_sv: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        detail: impl Into<String>,
        detail_sv: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            detail: detail.into(),
            detail_sv: detail_sv.into(),
        }
    }
}

/// The word a person knows a request field by, in Swedish: `address.postal_code`
/// is "postnummer", `contacts[0].phone` is "telefon". A field without a
/// word of its own is named as it is spelt.
pub fn field_sv(field: &str) -> String {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    let leaf = leaf.split('[').next().unwrap_or(leaf);
    let word = match leaf {
        "personnummer" => "personnummer",
        "first_name" => "förnamn",
        "last_name" => "efternamn",
        "name" => "namn",
        "display_name" => "visningsnamn",
        "username" => "användarnamn",
        "password" => "lösenord",
        "address" => "adress",
        "street" => "gatuadress",
        "postal_code" => "postnummer",
        "city" => "ort",
        "phone" => "telefonnummer",
        "door" => "dörr",
        "entry_notes" => "anvisningar för att komma in",
        "area_id" | "area" => "område",
        "group_id" | "group_ids" | "holder_group_id" | "team_group_id" | "recipient_group_id" => {
            "grupp"
        }
        "kind" => "typ",
        "role" => "roll",
        "service" => "tjänst",
        "customer_id" | "customer" => "brukare",
        "order_id" | "order" => "beställning",
        "installer_id" | "installer" | "assigned_installer_id" => "installatör",
        "ordinary_assessor_id" => "ordinarie handläggare",
        "alarm_lead" => "larmansvarig",
        "valid_from" | "start_date" | "from" => "startdatum",
        "valid_to" | "end_date" | "to" => "slutdatum",
        "installation_date" => "installationsdatum",
        "visit_date" => "besöksdatum",
        "visit_time" | "visit_from" | "visit_to" => "besökstid",
        "ordered_on" => "beställningsdatum",
        "collected_on" | "lock_receipt_collected_on" => "hämtdatum",
        "signed_at" => "signeringsdatum",
        "signed_by" => "undertecknare",
        "key_number" | "key_numbers" => "nyckelnummer",
        "key_position" => "nyckelplats",
        "cabinet" | "night_cabinet" => "nyckelskåp",
        "hook" => "krok",
        "count" => "antal",
        "serial" | "serials" => "serienummer",
        "model" | "model_id" => "modell",
        "supplier" => "leverantör",
        "supplier_order" => "leverantörsorder",
        "item_state" | "state" => "status",
        "items" => "utrustning",
        "note" | "reason" | "state_reason" => "kommentar",
        "reference" => "referens",
        "receipt_document_id" => "kvittensdokument",
        "body" => "innehåll",
        "format" => "format",
        "months" => "antal månader",
        "part" => "del",
        "user_id" | "holder_user_id" | "recipient_user_id" => "användare",
        "consent" | "consent_digital_lock" | "consent_staff_unlock" => "samtycke",
        "digital_lock" => "digitalt lås",
        "staff_unlock" => "upplåsning av personal",
        "other_municipality" => "annan kommun",
        "own_invoice_line" => "egen fakturarad",
        "birth_date" => "födelsedatum",
        "coordination_number" => "samordningsnummer",
        "contacts" => "kontaktpersoner",
        "refresh_token" => "förnyelsetoken",
        "active" => "aktiv",
        "date" => "datum",
        "version" => "version",
        "mapping" => "kolumnmappning",
        "header_row" => "rubrikrad",
        "subject" => "ämne",
        "topic" => "ämne",
        "decision" | "decision_id" => "beslut",
        _ => return format!("fältet {field}"),
    };
    word.to_string()
}

/// "a, b och c".
fn list_sv(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} och {last}", init.join(", ")),
    }
}

/// Generates [`ErrorCode`] from one list: each variant with its name on the
/// wire and its title in English and Swedish, so the name a client sees, the
/// spec's `enum` and `as_str` cannot disagree, and no code lacks its words.
macro_rules! error_codes {
    ($($v:ident => $s:literal, $en:literal, $sv:literal,)*) => {
        /// Every `code` a problem answer can carry: stable, for clients to
        /// branch on (never on the text, which may be reworded).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($v,)* }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$v,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$v => $s,)* }
            }

            /// What kind of problem this is, in English: the same for every
            /// answer with this code (the problem's `title`).
            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$v => $en,)* }
            }

            /// The same in Swedish (`title_sv`).
            pub fn title_sv(self) -> &'static str {
                match self { $(ErrorCode::$v => $sv,)* }
            }
        }
    };
}

error_codes! {
    AlarmStillRunning => "alarm_still_running", "The alarm is still running", "Larmet är fortfarande i drift",
    AlreadyApplied => "already_applied", "This was already done", "Detta är redan gjort",
    AlreadyExecuted => "already_executed", "Already executed", "Insatsen är redan verkställd",
    AlreadyExists => "already_exists", "Already exists", "Finns redan",
    AlreadyExtended => "already_extended", "Already extended", "Redan förlängd",
    AlreadyRecorded => "already_recorded", "Already recorded in the alarm platform", "Redan registrerat i larmplattformen",
    AlreadyRunning => "already_running", "Already running", "Pågår redan",
    AlreadySuperseded => "already_superseded", "Already replaced", "Redan ersatt",
    AreaExists => "area_exists", "The area already exists", "Området finns redan",
    BadRequest => "bad_request", "The request cannot be handled as sent", "Begäran kan inte hanteras som den skickades",
    BodyTimeout => "body_timeout", "The body arrived too slowly", "Innehållet kom för långsamt",
    ConcurrentChange => "concurrent_change", "Changed by someone else at the same time", "Ändrades av någon annan samtidigt",
    ConsentMissing => "consent_missing", "The customer's consent is missing", "Brukarens samtycke saknas",
    CustomerExists => "customer_exists", "The customer already exists", "Brukaren finns redan",
    CustomerNotFound => "customer_not_found", "No such customer", "Brukaren finns inte",
    DatabaseUnavailable => "database_unavailable", "The database cannot be reached", "Databasen går inte att nå",
    DecisionAlreadyEnded => "decision_already_ended", "The decision has already ended", "Beslutet är redan avslutat",
    DecisionNotFound => "decision_not_found", "No such decision", "Beslutet finns inte",
    DocumentIdConflict => "document_id_conflict", "Another document already has this id", "Ett annat dokument har redan detta id",
    DocumentNotFound => "document_not_found", "No such document", "Dokumentet finns inte",
    ExternalIdTaken => "external_id_taken", "The external identity is already in use", "Den externa identiteten används redan",
    Forbidden => "forbidden", "Your role may not do this", "Din roll får inte göra detta",
    GroupExists => "group_exists", "The group already exists", "Gruppen finns redan",
    GroupNotFound => "group_not_found", "No such group", "Gruppen finns inte",
    HeicNotSupported => "heic_not_supported", "HEIC photos are not accepted", "HEIC-bilder tas inte emot",
    IdempotencyInProgress => "idempotency_in_progress", "The same request is still being handled", "Samma begäran hanteras fortfarande",
    IdempotencyKeyReused => "idempotency_key_reused", "The Idempotency-Key was used for another request", "Idempotency-Key har använts för en annan begäran",
    ImageCorrupt => "image_corrupt", "The image is damaged", "Bilden är skadad",
    ImageTooLarge => "image_too_large", "The image is too large", "Bilden är för stor",
    ImportHasErrors => "import_has_errors", "The sheet has rows with mistakes", "Arket har rader med fel",
    ImportTooLarge => "import_too_large", "Too many rows to import at once", "För många rader att läsa in på en gång",
    IncompleteBody => "incomplete_body", "The body was cut off", "Innehållet kom inte fram helt",
    InternalError => "internal_error", "Unexpected server error", "Oväntat fel i servern",
    InvalidBody => "invalid_body", "A value in the body is wrong", "Ett värde i innehållet är fel",
    InvalidCredentials => "invalid_credentials", "Wrong username or password", "Fel användarnamn eller lösenord",
    InvalidCursor => "invalid_cursor", "The page cursor is not valid", "Sidmarkören är ogiltig",
    InvalidIdempotencyKey => "invalid_idempotency_key", "The Idempotency-Key is not valid", "Idempotency-Key är ogiltig",
    InvalidIfMatch => "invalid_if_match", "The If-Match header is not valid", "Rubriken If-Match är ogiltig",
    InvalidLimit => "invalid_limit", "The page size is not valid", "Sidstorleken är ogiltig",
    InvalidMapping => "invalid_mapping", "The column mapping is not valid", "Kolumnmappningen är ogiltig",
    InvalidPathParameter => "invalid_path_parameter", "A part of the address is not valid", "En del av adressen är ogiltig",
    InvalidQueryParameter => "invalid_query_parameter", "A query parameter is not valid", "En sökparameter är ogiltig",
    InvalidRefreshToken => "invalid_refresh_token", "The session has ended", "Inloggningen har upphört",
    InvalidTransition => "invalid_transition", "Not possible in the order's current state", "Inte möjligt i beställningens nuvarande läge",
    ItemAtOtherCustomer => "item_at_other_customer", "The item is at another customer", "Utrustningen finns hos en annan brukare",
    ItemNotFound => "item_not_found", "No such item", "Utrustningen finns inte",
    ItemNotThere => "item_not_there", "The item is not where the step expects it", "Utrustningen finns inte där steget väntar sig",
    KeyNotFound => "key_not_found", "No such key", "Nyckeln finns inte",
    KeyNotThere => "key_not_there", "The key is not where the step expects it", "Nyckeln finns inte där steget väntar sig",
    KeyNumberTaken => "key_number_taken", "The key number is already in use", "Nyckelnumret används redan",
    LoginRefused => "login_refused", "The sign-in was refused", "Inloggningen nekades",
    MalformedJson => "malformed_json", "The body is not valid JSON", "Innehållet är inte giltig JSON",
    MembershipNotFound => "membership_not_found", "No such membership", "Medlemskapet finns inte",
    MessageNotFound => "message_not_found", "No such message", "Meddelandet finns inte",
    MethodNotAllowed => "method_not_allowed", "The address does not take this method", "Adressen tar inte emot den metoden",
    NoLockReceiptLeft => "no_lock_receipt_left", "No lock receipt left in stock", "Inga låskvitton kvar i lager",
    NoRunningExecution => "no_running_execution", "No execution is running", "Ingen insats pågår",
    NotALockOrder => "not_a_lock_order", "Not a lock order", "Inte en beställning av lås",
    NotAReceiptProduct => "not_a_receipt_product", "Not a receipt product", "Inte en kvittoprodukt",
    NotAnAlarmOrder => "not_an_alarm_order", "Not a safety-alarm order", "Inte en beställning av trygghetslarm",
    NotFound => "not_found", "Not found", "Finns inte",
    NotLinked => "not_linked", "The lock is not linked", "Låset är inte kopplat",
    NotMountedHere => "not_mounted_here", "The item is not mounted at this customer", "Utrustningen sitter inte hos denna brukare",
    NotRegistered => "not_registered", "Not registered in the alarm platform", "Inte registrerat i larmplattformen",
    OidcNotConfigured => "oidc_not_configured", "Sign-in through the identity provider is not set up", "Inloggning via kommunens inloggningstjänst är inte inställd",
    OrderNotFound => "order_not_found", "No such order", "Beställningen finns inte",
    OtherMunicipalityNoLock => "other_municipality_no_lock", "No lock for a customer from another municipality", "Inget lås för en brukare från en annan kommun",
    OutboxBusy => "outbox_busy", "The delivery is being sent right now", "Leveransen skickas just nu",
    OutboxNotFound => "outbox_not_found", "No such delivery", "Leveransen finns inte",
    PasswordLoginOff => "password_login_off", "Password login is switched off", "Inloggning med lösenord är avstängd",
    PayloadTooLarge => "payload_too_large", "The body is too large", "Innehållet är för stort",
    PeriodGap => "period_gap", "The period leaves a gap", "Perioden lämnar ett glapp",
    PeriodInvalid => "period_invalid", "The period is not valid", "Perioden är ogiltig",
    PeriodOverlap => "period_overlap", "The period overlaps another", "Perioden överlappar en annan",
    PreconditionRequired => "precondition_required", "If-Match is missing", "If-Match saknas",
    ReferenceMissing => "reference_missing", "Something it refers to does not exist", "Något som den hänvisar till finns inte",
    RouteNotFound => "route_not_found", "No such address", "Adressen finns inte",
    SerialTaken => "serial_taken", "The serial number is already in use", "Serienumret används redan",
    ServiceAlreadyOrdered => "service_already_ordered", "The service is already ordered", "Tjänsten är redan beställd",
    SheetTooLarge => "sheet_too_large", "The sheet is too large", "Arket är för stort",
    StaleVersion => "stale_version", "Changed since you read it", "Ändrad sedan du läste den",
    StorageUnavailable => "storage_unavailable", "The document storage cannot be reached", "Dokumentlagringen går inte att nå",
    TooManyAttempts => "too_many_attempts", "Too many attempts", "För många försök",
    Unauthenticated => "unauthenticated", "Not logged in", "Inte inloggad",
    UnreadableBody => "unreadable_body", "The body cannot be read", "Innehållet går inte att läsa",
    UnreadableSheet => "unreadable_sheet", "The sheet cannot be read", "Arket går inte att läsa",
    UnsupportedImage => "unsupported_image", "This kind of image is not accepted", "Den bildtypen tas inte emot",
    UnsupportedMediaType => "unsupported_media_type", "The body's type is not accepted", "Innehållets typ tas inte emot",
    UploadInProgress => "upload_in_progress", "The same document is still being uploaded", "Samma dokument laddas fortfarande upp",
    UserNotFound => "user_not_found", "No such user", "Användaren finns inte",
    UsernameTaken => "username_taken", "The username is already in use", "Användarnamnet används redan",
    ValidationFailed => "validation_failed", "Some values are wrong", "Några uppgifter är fel",
    WebhookNotFound => "webhook_not_found", "No such webhook subscription", "Prenumerationen finns inte",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub struct AppError {
    status: StatusCode,
    code: ErrorCode,
    detail: String,
    detail_sv: String,
    errors: Vec<FieldError>,
    cause: Option<anyhow::Error>,
    denial: bool,
}

impl AppError {
    pub fn new(
        status: StatusCode,
        code: ErrorCode,
        detail: impl Into<String>,
        detail_sv: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            detail_sv: detail_sv.into(),
            errors: Vec::new(),
            cause: None,
            denial: false,
        }
    }

    /// Marks an access denial whose audit entry must be kept although the
    /// request fails.
    pub fn denied(mut self) -> Self {
        self.denial = true;
        self
    }

    pub fn is_denial(&self) -> bool {
        self.denial
    }

    pub fn with_field_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// 422 naming every field that is wrong, in words a person can act on.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let en: Vec<String> = errors
            .iter()
            .map(|e| format!("`{}` ({})", e.field, e.detail))
            .collect();
        let sv: Vec<String> = errors
            .iter()
            .map(|e| format!("{} ({})", field_sv(&e.field), e.detail_sv))
            .collect();
        let (detail, detail_sv) = match errors.len() {
            0 => (
                "Some fields are invalid. Correct them and send again.".to_string(),
                "Några fält är fel ifyllda. Rätta dem och skicka igen.".to_string(),
            ),
            1 => (
                format!("A field is invalid: {}. Correct it and send again; nothing was changed.", en[0]),
                format!("Ett fält är fel ifyllt: {}. Rätta det och skicka igen; inget har ändrats.", sv[0]),
            ),
            _ => (
                format!("Some fields are invalid: {}. Correct them and send again; nothing was changed.", en.join(", ")),
                format!("Några fält är fel ifyllda: {}. Rätta dem och skicka igen; inget har ändrats.", list_sv(&sv)),
            ),
        };
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            detail,
            detail_sv,
        )
        .with_field_errors(errors)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "You are not logged in, or your session has ended: log in again (send a valid access token as `Authorization: Bearer …`).",
            "Du är inte inloggad, eller så har inloggningen upphört. Logga in igen.",
        )
    }

    pub fn forbidden(what_en: &str, what_sv: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("Your role may not {what_en}."),
            format!("Din roll får inte {what_sv}."),
        )
    }

    pub fn not_found(code: ErrorCode, what_en: &str, what_sv: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code,
            format!("No {what_en} with this id exists, or you may not see it."),
            format!("Det finns ingen {what_sv} med detta id, eller så får du inte se den."),
        )
    }

    pub fn stale_version(current: i32) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::StaleVersion,
            format!(
                "Someone changed this record after you read it (it is now version {current}). Reload it and make your change again."
            ),
            format!(
                "Någon har ändrat posten sedan du läste den (nu version {current}). Läs in den igen och gör ändringen på nytt."
            ),
        )
    }

    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            ErrorCode::PreconditionRequired,
            "Send `If-Match` with the ETag you read, so a concurrent change is not overwritten.",
            "Skicka `If-Match` med den ETag du läste, så att ingen annans ändring skrivs över.",
        )
    }

    /// 413, naming the limit when it is known.
    pub fn payload_too_large(limit: Option<usize>) -> Self {
        let Some(limit) = limit else {
            return Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "The request body is larger than this endpoint accepts. Send less at a time.",
                "Innehållet är större än vad som tas emot här. Skicka mindre åt gången.",
            );
        };
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!(
                "The request body is larger than the {} ({limit} bytes) this endpoint accepts. Send less at a time.",
                size_text(limit, '.')
            ),
            format!(
                "Innehållet är större än de {} ({limit} byte) som tas emot här. Skicka mindre åt gången.",
                size_text(limit, ',')
            ),
        )
    }

    pub fn database_unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DatabaseUnavailable,
            "The database cannot be reached right now. Try again in a moment; nothing was changed.",
            "Databasen går inte att nå just nu. Försök igen om en stund; inget har ändrats.",
        )
        .caused_by(cause)
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "Something went wrong on the server. It has been logged; try again, and tell support if it persists.",
            "Något gick fel i servern. Det är loggat; försök igen och kontakta support om det fortsätter.",
        )
        .caused_by(cause)
    }

    /// The document store (a disk, or an S3 bucket over the network) failed:
    /// a 503 the phone's outbox retries, with the cause logged, not shown.
    pub fn storage_unavailable(cause: std::io::Error) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageUnavailable,
            "The document storage cannot be reached right now. Try again in a moment; nothing was stored.",
            "Dokumentlagringen går inte att nå just nu. Försök igen om en stund; inget har sparats.",
        )
        .caused_by(cause)
    }

    /// The cause is logged with the request, never shown to the client.
    fn caused_by(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:larmkoll:problem:{}", self.code),
            title: self.code.title().to_string(),
            title_sv: self.code.title_sv().to_string(),
            status: self.status.as_u16(),
            code: self.code.to_string(),
            detail: self.detail.clone(),
            detail_sv: self.detail_sv.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause:#}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            // The cause goes to the log, never to the client.
            tracing::error!(code = self.code.as_str(), cause = ?self.cause, "request failed");
        }
        HttpResponse::build(self.status)
            .insert_header((header::CONTENT_TYPE, "application/problem+json"))
            .json(self.to_problem())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "The record does not exist, or you may not see it.",
                "Posten finns inte, eller så får du inte se den.",
            ),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyExists,
                "A record with the same unique value already exists.",
                "Det finns redan en post med samma unika värde.",
            ),
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::ReferenceMissing,
                "The request refers to a record that does not exist.",
                "Begäran hänvisar till en post som inte finns.",
            ),
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::ConcurrentChange,
                "Another change to the same record happened at the same time. Try again.",
                "En annan ändring av samma post skedde samtidigt. Försök igen.",
            ),
            // The server went away: mid-query, or before the rollback could be sent.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Self::database_unavailable(e),
            other => Self::internal(other),
        }
    }
}

/// A byte count as a person reads it: `256 kB`, `5 MB`, `1,5 MB`.
fn size_text(bytes: usize, decimal: char) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if bytes < MIB {
        return format!("{} kB", bytes.div_ceil(KIB));
    }
    let text = if bytes.is_multiple_of(MIB) {
        format!("{}", bytes / MIB)
    } else {
        format!("{:.1}", bytes as f64 / MIB as f64)
    };
    format!("{} MB", text.replace('.', &decimal.to_string()))
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Unavailable(e) => Self::database_unavailable(e),
            crate::db::DbError::Query(e) => e.into(),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn problem_json_body_is_pinned() {
        let err = AppError::not_found(ErrorCode::CustomerNotFound, "customer", "brukare");
        let resp = err.error_response();
        assert_eq!(resp.status(), 404);
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(resp.into_body()).await.unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "urn:larmkoll:problem:customer_not_found",
                "title": "No such customer",
                "title_sv": "Brukaren finns inte",
                "status": 404,
                "code": "customer_not_found",
                "detail": "No customer with this id exists, or you may not see it.",
                "detail_sv": "Det finns ingen brukare med detta id, eller så får du inte se den."
            })
        );
    }

    #[test]
    fn each_error_code_is_named_as_serde_names_it() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    /// Each code's title names it in both languages, each its own words: a
    /// Swedish title that is the English one, or two codes sharing a title,
    /// tell a person nothing the code does not.
    #[test]
    fn every_error_code_has_its_own_title_in_english_and_swedish() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let (en, sv) = (code.title(), code.title_sv());
            assert!(!en.is_empty() && !sv.is_empty(), "{code}");
            assert_ne!(en, sv, "{code}: the Swedish title is the English one");
            assert!(
                !en.ends_with('.') && !sv.ends_with('.'),
                "{code}: a title, not a sentence"
            );
            assert!(seen.insert(en), "{code}: another code has the title {en:?}");
            assert!(seen.insert(sv), "{code}: another code has the title {sv:?}");
        }
    }

    /// A code in the list that nothing answers with is a promise to clients
    /// the server does not keep: remove it, or use it.
    #[test]
    fn every_error_code_is_answered_somewhere() {
        fn sources(dir: &std::path::Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("backend/error.rs")
                {
                    out.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut code = String::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("backend"),
            &mut code,
        );
        // error.rs's own constructors (validation, not_found …) count once each.
        let own = include_str!("error.rs");
        let own = &own[..own.find("#[cfg(test)]").unwrap()];
        let own = &own[own.find("impl AppError").unwrap()..];
        let unused: Vec<&str> = ErrorCode::ALL
            .iter()
            .filter(|c| {
                let name = format!("{:?}", c);
                let used = format!("ErrorCode::{name}");
                !code.contains(&used) && !own.contains(&used)
            })
            .map(|c| c.as_str())
            .collect();
        assert!(
            unused.is_empty(),
            "error codes nothing answers with: {unused:?}"
        );
    }

    #[test]
    fn diesel_errors_map_to_statuses() {
        use diesel::result::{DatabaseErrorKind, Error};
        assert_eq!(AppError::from(Error::NotFound).status(), 404);
        let unique = Error::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(String::from("x")),
        );
        assert_eq!(AppError::from(unique).status(), 409);
        assert_eq!(AppError::from(Error::RollbackTransaction).status(), 500);
        for lost in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            let e = Error::DatabaseError(lost, Box::new(String::from("no connection")));
            assert_eq!(AppError::from(e).status(), 503);
        }
    }
}
