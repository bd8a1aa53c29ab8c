//! How people sign in at `/authorize` (the spec's `auth.login`), and the settings of each way.

use serde::{Deserialize, Serialize};

/// How a person signs in before a client is granted access (the spec's `auth.login`;
/// `--login` replaces it). Every way ends with a [`Person`](crate::auth::Person) whom the
/// code and tokens belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Login {
    /// One shared password (its hash in [`PASSWORD_HASH_ENV`](super::PASSWORD_HASH_ENV)),
    /// typed on the consent page. It stands for one operator: every grant belongs to
    /// [`Person::OPERATOR`](crate::auth::Person::OPERATOR).
    #[default]
    Password,
    /// Accounts kept in the server's store (`<bin> users add NAME --password-stdin`), signed
    /// in with name and password on the consent page; the subject is the user's name.
    Users,
    /// An upstream OpenID provider signs the person in ([`OidcSpec`]); the subject is the one
    /// it asserts.
    Oidc,
    /// Approve at once: `/authorize` answers 302 with the code. Only allowed when the public
    /// URL is loopback (local development, tests, conformance runs); grants belong to
    /// [`Person::LOCAL`](crate::auth::Person::LOCAL).
    Auto,
}

/// The former name of [`Login`] (the spec's `consent: password | auto`).
pub type Consent = Login;

impl Login {
    /// Every mode, in the order help texts list them.
    pub const ALL: [Login; 4] = [Login::Password, Login::Users, Login::Oidc, Login::Auto];

    /// The spec's and the command line's name: `password`, `users`, `oidc` or `auto`.
    pub fn as_str(self) -> &'static str {
        match self {
            Login::Password => "password",
            Login::Users => "users",
            Login::Oidc => "oidc",
            Login::Auto => "auto",
        }
    }

    /// Parses [`Login::as_str`]'s names (surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s.trim())
    }
}

impl std::fmt::Display for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings of `login: oidc` (the spec's `auth.oidc`). The client id and secret at the
/// provider are never in the spec: they come from `MCPGEN_OIDC_CLIENT_ID` and
/// `MCPGEN_OIDC_CLIENT_SECRET`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OidcSpec {
    /// The provider's issuer URL (`https://accounts.google.com`); `None`: from
    /// `MCPGEN_OIDC_ISSUER` at start.
    pub issuer: Option<String>,
    /// Who is admitted once the provider has signed them in.
    pub allow: OidcAllow,
}

/// Who `login: oidc` admits: a person matching any one rule. At least one rule must be set
/// ([`OidcAllow::is_empty`]): a provider such as Google signs in anyone with an account.
/// Email rules only match an email the provider says is verified (`email_verified`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OidcAllow {
    /// Email addresses admitted (compared case-insensitively).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Email domains admitted: `example.com` admits `ada@example.com` (compared
    /// case-insensitively; subdomains are not included).
    #[serde(default)]
    pub domains: Vec<String>,
    /// An ID token claim that must hold a value (a string claim equal to it, or an array
    /// claim containing it): `groups` = `mcp-users`, `hd` = `example.com`.
    #[serde(default)]
    pub claim: Option<OidcClaim>,
}

impl OidcAllow {
    /// Whether no rule is set (such a spec is refused: it would admit nobody).
    pub fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.domains.is_empty() && self.claim.is_none()
    }
}

/// A required claim value (see [`OidcAllow::claim`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcClaim {
    /// The claim's name in the ID token (`groups`).
    pub name: String,
    /// The value it must hold (`mcp-users`).
    pub value: String,
}

/// Why a `login: users` sign-in was not accepted.
#[derive(Debug)]
pub(crate) enum SignInError {
    /// Unknown user, malformed name or wrong password (which one is not told).
    Wrong,
    /// The password limiter refused the attempt (see [`super::limit::PasswordLimiter`]).
    Limited(super::limit::Refused),
    /// The store could not be read.
    Store(crate::store::StoreError),
}

/// Checks a user name and password for `login: users` against the store and answers the
/// person to issue the code for. Every attempt goes through the shared-password limiter first
/// (per source address and server-wide, counted before the check) and its Argon2 check queue.
/// An unknown or malformed name costs the same Argon2 check as a known one, so the time an
/// answer takes does not tell which names exist.
pub(crate) async fn check_user(
    inner: &super::Inner,
    source: Option<std::net::IpAddr>,
    name: &str,
    password: &str,
) -> Result<crate::auth::Person, SignInError> {
    inner
        .password_attempts
        .take(source, std::time::Instant::now())
        .map_err(SignInError::Limited)?;
    let name = crate::store::canonical_user_name(name);
    let user = if crate::store::is_user_name(&name) {
        inner
            .store
            .get_user(&name)
            .await
            .map_err(SignInError::Store)?
    } else {
        None
    };
    let hash = user
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let matches = inner
        .password_attempts
        .verify(hash, password.to_owned())
        .await
        .map_err(SignInError::Limited)?;
    match user {
        Some(u) if matches => Ok(u.person()),
        _ => Err(SignInError::Wrong),
    }
}

/// A hash no password is known for, checked in place of a user that does not exist. Made
/// once, at start-up ([`super::OAuth::new`] with `login: users`), not in a request.
/// Without the `password` feature start-up refuses `login: users`, so no check runs.
pub(super) fn decoy_hash() -> &'static str {
    #[cfg(feature = "password")]
    {
        static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        DECOY.get_or_init(|| super::hash_password(&super::crypto::random_token()))
    }
    #[cfg(not(feature = "password"))]
    ""
}

/// The environment variable the provider's issuer URL is read from
/// (`https://accounts.google.com`, `https://login.microsoftonline.com/TENANT/v2.0`, ...); it
/// overrides the spec's `auth.oidc.issuer`.
pub const OIDC_ISSUER_ENV: &str = "MCPGEN_OIDC_ISSUER";
/// The environment variable the client id registered at the provider is read from (never
/// from the spec).
pub const OIDC_CLIENT_ID_ENV: &str = "MCPGEN_OIDC_CLIENT_ID";
/// The environment variable the client secret registered at the provider is read from (never
/// from the spec, never logged).
pub const OIDC_CLIENT_SECRET_ENV: &str = "MCPGEN_OIDC_CLIENT_SECRET";

/// `login: oidc` resolved at start-up: the issuer and the client credentials from the
/// environment, and the admission rule from the spec.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The provider's issuer URL, as the provider writes it in `iss`.
    pub issuer: String,
    /// [`OIDC_CLIENT_ID_ENV`].
    pub client_id: String,
    /// [`OIDC_CLIENT_SECRET_ENV`].
    pub client_secret: String,
    /// Who is admitted.
    pub allow: OidcAllow,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<set>")
            .field("allow", &self.allow)
            .finish()
    }
}

/// Why `login: oidc` cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcConfigError {
    /// Neither the spec nor the environment names the issuer.
    #[error(
        "login oidc needs the provider's issuer url: set {OIDC_ISSUER_ENV} or auth.oidc.issuer (for example https://accounts.google.com)"
    )]
    MissingIssuer,
    /// The issuer is not an https URL (http only on loopback).
    #[error("oidc issuer {issuer:?} must be an https url (http only on loopback hosts)")]
    BadIssuer { issuer: String },
    /// A credential is missing from the environment.
    #[error(
        "login oidc needs {env}: the client {what} your provider gave when you registered this server"
    )]
    MissingCredential {
        env: &'static str,
        what: &'static str,
    },
    /// `login: oidc` (from `--login`) on a spec without `auth.oidc`.
    #[error("login oidc needs auth.oidc in the spec: the provider's issuer and who is allowed")]
    NoSpec,
    /// The spec admits nobody.
    #[error(
        "login oidc needs an allow rule (emails, domains or claim); without one nobody could sign in"
    )]
    NoAllowRule,
}

impl OidcConfig {
    /// Resolves `spec` with the environment `env` (a variable set to the empty string counts
    /// as unset): the issuer from [`OIDC_ISSUER_ENV`], else the spec's (the environment wins,
    /// as for every `MCPGEN_*` variable); the client id and secret only from
    /// [`OIDC_CLIENT_ID_ENV`] and [`OIDC_CLIENT_SECRET_ENV`].
    pub fn resolve(
        spec: &OidcSpec,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, OidcConfigError> {
        let var = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let issuer = var(OIDC_ISSUER_ENV)
            .or_else(|| spec.issuer.clone().filter(|i| !i.trim().is_empty()))
            .ok_or(OidcConfigError::MissingIssuer)?;
        if mcpgen_rules::parse_base_url(issuer.trim()).is_err() {
            return Err(OidcConfigError::BadIssuer { issuer });
        }
        let client_id = var(OIDC_CLIENT_ID_ENV).ok_or(OidcConfigError::MissingCredential {
            env: OIDC_CLIENT_ID_ENV,
            what: "id",
        })?;
        let client_secret =
            var(OIDC_CLIENT_SECRET_ENV).ok_or(OidcConfigError::MissingCredential {
                env: OIDC_CLIENT_SECRET_ENV,
                what: "secret",
            })?;
        let allow = &spec.allow;
        if allow.is_empty() {
            return Err(OidcConfigError::NoAllowRule);
        }
        Ok(Self {
            issuer: issuer.trim().to_owned(),
            client_id,
            client_secret,
            allow: allow.clone(),
        })
    }
}
