//! `auth.login` and `auth.oidc`: the former `consent` key, and the OpenID settings
//! `login: oidc` needs, with at least one admission rule. `auth.oidc` may sit beside another
//! login mode: a deployment switches to it with `--login oidc`, as it can to `users`.

use super::*;

impl Checker<'_> {
    pub(super) fn login(&mut self, auth: &serde_json::Map<String, Value>) {
        let login = auth.get("login").and_then(Value::as_str);
        if auth.contains_key("login") && auth.contains_key("consent") {
            self.at_key(
                "/auth/consent",
                "`consent` is the former name of `login`: set one of them",
            );
            self.help("remove `consent` and keep `login`");
        }
        let oidc = auth.get("oidc");
        if login == Some("oidc") && oidc.is_none() {
            self.at_value("/auth/login", "`login: oidc` needs `auth.oidc`");
            self.help("add `oidc: { allow: { domains: [example.com] } }` under `auth`; the provider's issuer is `oidc.issuer` or MCPGEN_OIDC_ISSUER");
        }
        let Some(oidc) = oidc.and_then(Value::as_object) else {
            return;
        };
        if let Some(issuer) = oidc.get("issuer").and_then(Value::as_str) {
            self.oidc_issuer(issuer);
        }
        if let Some(allow) = oidc.get("allow").and_then(Value::as_object)
            && !["emails", "domains", "claim"]
                .iter()
                .any(|k| allow.contains_key(*k))
        {
            self.at_value(
                "/auth/oidc/allow",
                "`allow` admits nobody: it needs at least one rule",
            );
            self.help("list `emails: [ada@example.com]`, `domains: [example.com]`, or a `claim: { name: groups, value: mcp-users }`; a provider such as Google signs in anyone with an account");
        }
    }

    /// The provider's issuer: an http(s) URL with no query, fragment or credentials, https
    /// unless loopback. A path is allowed (Keycloak realms, Entra tenants, Okta servers).
    fn oidc_issuer(&mut self, raw: &str) {
        let p = "/auth/oidc/issuer";
        let Ok(url) = url::Url::parse(raw) else {
            if raw.starts_with("http://") || raw.starts_with("https://") {
                self.at_value(p, format!("`{raw}` is not a valid URL"));
            }
            return;
        };
        match check_base_url(&url) {
            Ok(()) | Err(BaseUrlError::NotHttp | BaseUrlError::NotUrl(_)) => {}
            Err(BaseUrlError::QueryOrFragment) => {
                self.at_value(p, "`auth.oidc.issuer` must not have a query or fragment");
                self.help("write the issuer exactly as the provider's discovery document names it");
            }
            Err(BaseUrlError::Credentials) => {
                self.at_value(p, "`auth.oidc.issuer` must not carry credentials");
                self.help("the client id and secret come from MCPGEN_OIDC_CLIENT_ID and MCPGEN_OIDC_CLIENT_SECRET");
            }
            Err(BaseUrlError::InsecureHttp) => {
                self.at_value(
                    p,
                    format!("`{raw}` uses plain http on a host that is not loopback"),
                );
                self.help("an OpenID provider is reached over https");
            }
        }
    }
}
