//! Stands in for `password` in a build without the cargo feature `password` (no Argon2):
//! no hash is accepted and no password matches. Start-up refuses `consent: password` on such a
//! build, naming the feature, so nothing here decides a real request.

/// No working memory: nothing is hashed (always empty).
pub(crate) type Memory = Vec<()>;

/// Always `false`: this build cannot check Argon2 hashes.
pub fn is_password_hash(_stored: &str) -> bool {
    false
}

/// Always `false`: this build cannot check Argon2 hashes.
pub fn verify_password(_stored: &str, _password: &str) -> bool {
    false
}

/// Always `false`: this build cannot check Argon2 hashes.
pub(crate) fn verify_password_in(_stored: &str, _password: &str, _memory: &mut Memory) -> bool {
    false
}
