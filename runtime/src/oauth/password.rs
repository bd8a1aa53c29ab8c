//! The consent password's Argon2 hash (cargo feature `password`). Without the feature the
//! `password_off` module stands in: no hash is accepted, and start-up refuses `consent:
//! password` naming the feature before anything here is reached.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::crypto::constant_time_eq;

/// The Argon2 working memory a password-checking thread keeps between checks.
pub(crate) type Memory = Vec<Block>;

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
pub(crate) fn verify_password_in(stored: &str, password: &str, memory: &mut Memory) -> bool {
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
}
