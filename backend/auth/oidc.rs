//! Sign-in at the municipality's identity provider (OpenID Connect): the
//! authorization code flow with PKCE, Larmkoll as a confidential client, the
//! provider found by discovery, its ID token checked (signature against its
//! JWKS, issuer, audience, nonce, expiry) and its assurance level (`acr`).
//!
//! This module speaks to the provider and judges what it says; who the person
//! is in Larmkoll, the browser binding and the audit are the application's
//! (`app::sessions`).

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, HttpRequest, HttpResponse, IssuerUrl, LogoutRequest, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl,
    RequestTokenError, Scope, TokenResponse,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long discovery and the JWKS are trusted before they are fetched again;
/// an ID token signed with a key not in them fetches them at once.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The provider must answer each request within this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider and Larmkoll's registration there, from the settings.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// `<public url>/api/v1/auth/oidc/callback`.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub match_claim: String,
    pub required_acr: Option<String>,
    pub button_text: String,
}

/// The provider, its metadata cached.
pub struct Oidc {
    pub config: OidcConfig,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, ProviderMetadataWithLogout)>>,
}

/// Where to send the browser, and what the callback needs to check its answer.
pub struct Begun {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A person the provider vouched for.
#[derive(Debug)]
pub struct Vouched {
    /// The configured claim's value, matched against users' external identity.
    pub identity: String,
    pub id_token: String,
}

/// Why a sign-in is refused: a short reason for the audit log, and words for
/// the person.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: &'static str,
    pub en: String,
    pub sv: String,
}

impl Refusal {
    pub fn new(reason: &'static str, en: impl Into<String>, sv: impl Into<String>) -> Self {
        Self {
            reason,
            en: en.into(),
            sv: sv.into(),
        }
    }

    /// The provider cannot be reached or answered nonsense.
    pub fn unavailable() -> Self {
        Self::new(
            "provider_unavailable",
            "The identity provider does not answer. Try again in a while; if it persists, ask the administrator for a fallback login.",
            "Kommunens inloggningstjänst svarar inte. Försök igen om en stund; om det kvarstår, be administratören om reservinloggning.",
        )
    }

    /// The ID token did not hold up: forged, meant for someone else, replayed or stale.
    fn untrusted(reason: &'static str) -> Self {
        Self::new(
            reason,
            "The identity provider's answer could not be verified and was not accepted. Start the login again; if it persists, contact the system administrator.",
            "Svaret från inloggningstjänsten gick inte att styrka och godtogs inte. Börja om inloggningen; om det kvarstår, kontakta systemförvaltaren.",
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("request to the identity provider failed: {0}")]
pub struct HttpError(String);

impl Oidc {
    pub fn new(config: OidcConfig) -> anyhow::Result<Self> {
        IssuerUrl::new(config.issuer.clone())
            .map_err(|e| anyhow::anyhow!("the OIDC issuer {:?}: {e}", config.issuer))?;
        RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|e| anyhow::anyhow!("the OIDC redirect {:?}: {e}", config.redirect_uri))?;
        let http = reqwest::Client::builder()
            // The provider's answers are read as they are: a redirect is an error (RFC 9700 §4.11).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(Self {
            config,
            http,
            metadata: Mutex::new(None),
        })
    }

    async fn send(http: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let response = http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| HttpError(e.without_url().to_string()))?;
        let mut built = HttpResponse::new(Vec::new());
        *built.status_mut() = response.status();
        *built.headers_mut() = response.headers().clone();
        *built.body_mut() = response
            .bytes()
            .await
            .map_err(|e| HttpError(e.without_url().to_string()))?
            .to_vec();
        Ok(built)
    }

    /// Discovery and the JWKS, from the cache unless stale or `fresh`.
    async fn metadata(&self, fresh: bool) -> Result<ProviderMetadataWithLogout, Refusal> {
        if !fresh {
            let cached = self.metadata.lock().expect("metadata lock");
            if let Some((at, m)) = cached.as_ref() {
                if at.elapsed() < METADATA_TTL {
                    return Ok(m.clone());
                }
            }
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone()).expect("checked in new");
        let http = self.http.clone();
        let client = move |r| Self::send(http.clone(), r);
        let found = ProviderMetadataWithLogout::discover_async(issuer, &client)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "OpenID provider discovery failed");
                Refusal::unavailable()
            })?;
        *self.metadata.lock().expect("metadata lock") = Some((Instant::now(), found.clone()));
        Ok(found)
    }

    fn client(
        &self,
        metadata: ProviderMetadataWithLogout,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(self.config.redirect_uri.clone()).expect("checked"))
    }

    /// The provider's authorization URL with a fresh state, nonce and PKCE
    /// challenge (S256), asking for the required assurance level.
    pub async fn begin(&self) -> Result<Begun, Refusal> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(acr) = &self.config.required_acr {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Begun {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the code at the token endpoint and checks the ID token; a
    /// signature by a key not in the cached JWKS fetches it again once (the
    /// provider rotated its keys).
    pub async fn finish(
        &self,
        code: String,
        pkce_verifier: String,
        nonce: String,
    ) -> Result<Vouched, Refusal> {
        let client = self.client(self.metadata(false).await?);
        let http = self.http.clone();
        let send = move |r| Self::send(http.clone(), r);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| Refusal::unavailable())?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&send)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    tracing::warn!(error = %r.error(), "the OpenID provider refused the code");
                    Refusal::new(
                        "code_refused",
                        "The identity provider did not accept the login (it may have been used already or taken too long). Start the login again.",
                        "Inloggningstjänsten godtog inte inloggningen (den kan redan ha använts eller dröjt för länge). Börja om inloggningen.",
                    )
                }
                RequestTokenError::Parse(_, _) => Refusal::untrusted("token_unreadable"),
                other => {
                    tracing::warn!(error = %other, "the OpenID provider's token endpoint failed");
                    Refusal::unavailable()
                }
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| Refusal::untrusted("no_id_token"))?
            .clone();
        let nonce = Nonce::new(nonce);
        let acr_of = |client: &CoreClient<_, _, _, _, _, _>| {
            id_token
                .claims(&client.id_token_verifier(), &nonce)
                .map(|c| c.auth_context_ref().map(|a| a.to_string()))
        };
        let mut verified = acr_of(&client);
        if let Err(ClaimsVerificationError::SignatureVerification(_)) = verified {
            // Perhaps a new key: fetch the JWKS again and judge once more.
            let fresh = self.client(self.metadata(true).await?);
            verified = acr_of(&fresh);
        }
        let acr = verified.map_err(|e| {
            let reason = match e {
                ClaimsVerificationError::Expired(_) => "id_token_expired",
                ClaimsVerificationError::InvalidAudience(_) => "wrong_audience",
                ClaimsVerificationError::InvalidIssuer(_) => "wrong_issuer",
                ClaimsVerificationError::InvalidNonce(_) => "wrong_nonce",
                ClaimsVerificationError::SignatureVerification(_) => "bad_signature",
                _ => "id_token_invalid",
            };
            tracing::warn!(reason, error = %e, "an ID token was refused");
            Refusal::untrusted(reason)
        })?;
        if let Some(required) = &self.config.required_acr {
            if !acr
                .as_deref()
                .is_some_and(|given| acr_suffices(given, required))
            {
                return Err(Refusal::new(
                    "acr_too_low",
                    "This login needs a higher assurance level. Log in again with your card (e-tjänstekort or SITHS).",
                    "Inloggningen kräver en högre tillitsnivå. Logga in igen med ditt kort (e-tjänstekort eller SITHS-kort).",
                ));
            }
        }
        let compact = id_token.to_string();
        let identity = claim_of(&compact, &self.config.match_claim).ok_or_else(|| {
            Refusal::new(
                "claim_missing",
                format!(
                    "The identity provider did not send the claim `{}` Larmkoll recognises people by. Ask the system administrator to check the setting.",
                    self.config.match_claim
                ),
                format!(
                    "Inloggningstjänsten skickade inte uppgiften `{}` som Larmkoll känner igen personer på. Be systemförvaltaren se över inställningen.",
                    self.config.match_claim
                ),
            )
        })?;
        Ok(Vouched {
            identity,
            id_token: compact,
        })
    }

    /// The provider's end-session URL for RP-initiated logout, when it has one.
    pub async fn logout_url(&self, id_token: &str, after: &str) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.config.client_id.clone()));
        if let Ok(token) = id_token.parse::<openidconnect::core::CoreIdToken>() {
            request = request.set_id_token_hint(&token);
        }
        if let Ok(url) = PostLogoutRedirectUrl::new(after.to_string()) {
            request = request.set_post_logout_redirect_uri(url);
        }
        Some(request.http_get_url().to_string())
    }
}

/// A claim of an ID token already verified, as text: the matched claim may be
/// any (`upn`, an HSA-id claim), not only those the core types know.
fn claim_of(compact: &str, name: &str) -> Option<String> {
    let payload = compact.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let value = match claims.get(name)? {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!value.is_empty()).then_some(value)
}

/// Whether the assurance level `given` is at least `required`: the same
/// value, or a higher level of the same family (`…/loa4` for `…/loa3`, as the
/// Swedish levels of assurance are written).
pub fn acr_suffices(given: &str, required: &str) -> bool {
    if given == required {
        return true;
    }
    let split = |s: &str| {
        let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (family, level) = s.split_at(s.len() - digits);
        (family.to_string(), level.parse::<u32>().ok())
    };
    match (split(given), split(required)) {
        ((family, Some(g)), (wanted, Some(r))) => family == wanted && g >= r,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_level_of_the_same_family_suffices_and_nothing_else() {
        let loa = |n| format!("http://id.elegnamnden.se/loa/1.0/loa{n}");
        assert!(acr_suffices(&loa(3), &loa(3)));
        assert!(acr_suffices(&loa(4), &loa(3)));
        assert!(!acr_suffices(&loa(2), &loa(3)));
        assert!(!acr_suffices("urn:other:loa4", &loa(3)));
        assert!(acr_suffices("silver", "silver"));
        assert!(!acr_suffices("gold", "silver"));
    }

    #[test]
    fn a_claim_is_read_from_the_token_payload() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = engine.encode(r#"{"sub":"abc","upn":" anna@kommun.se ","n":7,"e":""}"#);
        let token = format!("e30.{payload}.sig");
        assert_eq!(claim_of(&token, "upn").as_deref(), Some("anna@kommun.se"));
        assert_eq!(claim_of(&token, "n").as_deref(), Some("7"));
        assert_eq!(claim_of(&token, "e"), None);
        assert_eq!(claim_of(&token, "missing"), None);
        assert_eq!(claim_of("garbage", "sub"), None);
    }
}
