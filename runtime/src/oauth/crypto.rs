//! Random credentials, their hashes, PKCE and the consent password: every secret comparison in
//! the OAuth half goes through [`constant_time_eq`].

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh opaque credential: 32 random bytes, base64url (43 characters).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh identifier that is not a secret (client ids, grant families): 16 random bytes.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The key under which a code, token or client secret is stored: SHA-256, hex. The raw value
/// is never stored or logged, so a leaked store or log grants nothing.
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(crate) fn is_code_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge is base64url of a SHA-256 digest: exactly 43 characters.
pub(crate) fn is_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `BASE64URL(SHA256(verifier)) == challenge` (RFC 7636 §4.6), compared in constant time.
pub(crate) fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// Hashes a consent password for `MCPGEN_PASSWORD_HASH`: Argon2id with the crate's default
/// (OWASP-recommended) cost and a random 16-byte salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). A memory-hard hash, because the value
/// sits in environment variables and deployment secrets, where it can leak; the generated
/// binary prints one with `hash-password`, and any Argon2 tool makes the same format.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        // Only fails on out-of-range parameters or salt sizes, and both are fixed here.
        .expect("argon2 with default parameters and a 16-byte salt")
}

/// Whether `stored` is a password hash [`verify_password`] can check.
pub fn is_password_hash(stored: &str) -> bool {
    PasswordHash::new(stored.trim()).is_ok_and(|h| {
        matches!(h.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") && h.hash.is_some()
    })
}

/// Checks `password` against a hash made by [`hash_password`] (or any Argon2 PHC string).
/// The comparison inside is constant-time.
pub fn verify_password(stored: &str, password: &str) -> bool {
    is_password_hash(stored)
        && Argon2::default()
            .verify_password(password.as_bytes(), stored.trim())
            .is_ok()
}

/// [`verify_password`] with the Argon2 working memory in `memory`, which is grown to the
/// hash's memory cost and kept for the next call. The consent-password checking threads each
/// keep one: memory allocated afresh for every check is not all given back to the system, and
/// resident memory grew by the hash's memory cost per check.
pub(crate) fn verify_password_in(stored: &str, password: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored.trim()) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() != blocks {
        memory.clear();
        memory.shrink_to_fit();
        memory.resize(blocks, Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            &mut memory[..],
        )
        .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_code_verifier(verifier));
        assert!(is_s256_challenge(challenge));
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
    }

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(is_password_hash(&h));
        assert!(verify_password(&h, "correct horse"));
        assert!(
            verify_password(&format!("{h}\n"), "correct horse"),
            "a trailing newline from a file"
        );
        assert!(!verify_password(&h, "correct horse "));
        assert_ne!(h, hash_password("correct horse"), "salted");
        assert!(!is_password_hash("sha256$abc$00"));
        assert!(!verify_password("plain", "plain"));
        assert!(!verify_password("", ""));
    }

    #[test]
    fn password_from_another_argon2_tool() {
        // RFC 9106 parameters, made by the reference `argon2` command-line tool:
        // echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -e
        let stored = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert!(is_password_hash(stored));
        assert!(verify_password(stored, "password"));
        assert!(!verify_password(stored, "Password"));
    }

    #[test]
    fn hashes_are_stable() {
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(random_token().len(), 43);
    }
}
